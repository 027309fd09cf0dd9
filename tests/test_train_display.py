"""The progress bar and live plot that fit and train_lm share (TrainingDisplay)."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from d2lutils.data import SeqLoader, TensorLoader, Vocab  # noqa: E402
from d2lutils.train import fit, train_lm  # noqa: E402
from d2lutils.train.plumbing import TrainingDisplay  # noqa: E402

CPU = torch.device("cpu")


@pytest.fixture
def shown(monkeypatch):
    """Record what the live plots display (IPython.display.display) instead of showing it."""
    import IPython.display

    figures = []

    class Handle:
        def update(self, fig):
            figures.append(fig)

    def display(fig, display_id=None):
        figures.append(fig)
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    return figures


def _legend(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_fit_plots_the_curves_it_records(shown, capsys, monkeypatch):
    # pytest-xdist's workers say COLUMNS=80, and tqdm 4.66 (the lowest allowed) then cuts the
    # bar's line at 79 characters, test_acc included: the width is not what is tested here
    monkeypatch.setenv("COLUMNS", "250")
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(64, 2, generator=g), torch.randint(0, 2, (64,), generator=g)
    loader = TensorLoader(X, y, batch_size=16, device=CPU)
    fit(nn.Linear(2, 2), loader, loader, epochs=2, lr=0.1, device=CPU, plot=True,
        progress=True)
    assert shown and _legend(shown[-1]) == ["train loss", "train acc", "test acc"]
    bar = capsys.readouterr().err
    assert "fit" in bar and "8/8" in bar and "test_acc" in bar  # 2 epochs x 4 batches
    shown.clear()
    regression = TensorLoader(X, torch.randn(64), batch_size=16, device=CPU)
    fit(nn.Linear(2, 1), regression, None, epochs=2, lr=0.1, loss=nn.MSELoss(), device=CPU,
        plot=True, progress=False)
    assert _legend(shown[-1]) == ["train loss"]  # no empty accuracy curves
    assert capsys.readouterr().err == ""


def test_train_lm_plots_perplexity(shown):
    tokens = list("abcab" * 40)
    vocab = Vocab(tokens)
    loader = SeqLoader(vocab[tokens], 2, 5, device=CPU)
    net = nn.Module()
    net.emb = nn.Embedding(len(vocab), len(vocab))
    net.forward = lambda X, state: (net.emb(X), state)
    net.begin_state = lambda batch_size, device: None
    train_lm(net, loader, vocab, lr=1.0, epochs=2, val_iter=loader, device=CPU, plot=True,
             progress=False)
    assert _legend(shown[-1]) == ["train ppl", "val ppl"]
    assert shown[-1].axes[0].get_ylabel() == "perplexity"


def test_display_off_outside_a_kernel_by_default():
    with TrainingDisplay("fit", 1, [], ["train_loss"], plot=None, progress=None) as display:
        display.batch_done()
        display.epoch_done(1, {"train_loss": 1.0})
    assert display.bar is None and not display.plot and display.live is None
