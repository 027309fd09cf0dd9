"""Training helpers agree with d2l.torch and torch; fit and train_lm actually learn.

One real training run (softmax regression on all of Fashion-MNIST, one epoch on the CPU);
the rest are tiny problems. Nothing here measures time.
"""

import math

import pytest
import torch
from d2l import torch as d2l
from torch import nn

import d2lutils
from d2lutils.data import SeqLoader, TensorLoader, Vocab, fashion_mnist, load_array
from d2lutils.train import (
    History,
    Timer,
    accuracy,
    evaluate_accuracy,
    evaluate_loss,
    fit,
    grad_clipping,
    k_fold_indices,
    perplexity,
    predict_lm,
    train_lm,
)
from d2lutils.train.loop import use_channels_last

CPU = torch.device("cpu")
QUIET = {"device": CPU, "plot": False, "progress": False}


# ------------------------------------------------------------------ metrics

def test_accuracy_agrees_with_d2l():
    torch.manual_seed(0)
    y_hat, y = torch.randn(200, 10), torch.randint(0, 10, (200,))
    assert float(accuracy(y_hat, y)) == d2l.accuracy(y_hat, y)
    assert 0 < float(accuracy(y_hat, y)) < 200
    preds = y_hat.argmax(1)  # already class indices
    assert float(accuracy(preds, y)) == d2l.accuracy(preds, y)
    assert int(accuracy(y.clone(), y)) == 200
    # (batch, steps, vocab) scores against (batch, steps) labels, as for a language model
    seq, labels = torch.randn(4, 5, 7), torch.randint(0, 7, (4, 5))
    assert int(accuracy(seq, labels)) == int((seq.argmax(-1) == labels).sum())


def test_timer_agrees_with_d2l():
    ours, ref = Timer(), d2l.Timer()
    for t in (ours, ref):
        t.times = [0.5, 1.5, 1.0]
    assert ours.avg() == ref.avg() == 1.0
    assert ours.sum() == ref.sum() == 3.0
    assert ours.cumsum() == ref.cumsum() == [0.5, 2.0, 3.0]
    ours.start()
    elapsed = ours.stop()
    assert elapsed >= 0 and ours.times[-1] == elapsed and len(ours.times) == 4


def test_evaluate_accuracy_agrees_with_d2l():
    torch.manual_seed(0)
    X, y = torch.randn(300, 4), torch.randint(0, 3, (300,))
    net = nn.Linear(4, 3)
    it = load_array((X, y), 64, is_train=False)
    ref = d2l.evaluate_accuracy_gpu(net, it)
    net.train()
    assert evaluate_accuracy(net, it) == pytest.approx(ref, abs=0)
    assert net.training  # the mode it had is restored
    loader = TensorLoader(X, y, batch_size=100, device=CPU)
    assert evaluate_accuracy(net, loader, CPU) == pytest.approx(ref, abs=0)
    assert ref == int((net(X).argmax(1) == y).sum()) / 300


def test_evaluate_loss_mean_and_none_reductions():
    torch.manual_seed(0)
    X, y = torch.randn(50, 3), torch.randn(50)  # (n,) targets for (n, 1) outputs
    net = nn.Linear(3, 1)
    expected = nn.functional.mse_loss(net(X), y.reshape(-1, 1)).item()
    it = load_array((X, y), 16, is_train=False)
    assert evaluate_loss(net, it, nn.MSELoss()) == pytest.approx(expected, rel=1e-6)
    assert evaluate_loss(net, it, nn.MSELoss(reduction="none")) == pytest.approx(expected, 1e-6)


def test_history():
    h = History()
    h.append(train_loss=torch.tensor(2.0), test_acc=0.5)
    h.append(train_loss=1.0, test_acc=0.75)
    assert h.train_loss == h["train_loss"] == [2.0, 1.0]
    assert h.final == {"train_loss": 1.0, "test_acc": 0.75}
    assert "2 epochs" in repr(h) and "test_acc=0.75" in repr(h)
    with pytest.raises(AttributeError):
        h.val_ppl  # noqa: B018
    assert History().final == {}


def _with_grads(seed: int, scale: float) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2))
    (net(torch.randn(8, 5)).sum() * scale).backward()
    return net


@pytest.mark.parametrize("scale, theta", [(100.0, 1.0), (0.01, 1.0), (1.0, 0.1)])
def test_grad_clipping_equals_clip_grad_norm(scale, theta):
    ours, ref = _with_grads(0, scale), _with_grads(0, scale)
    norm = grad_clipping(ours, theta)
    ref_norm = nn.utils.clip_grad_norm_(ref.parameters(), theta)
    assert norm == pytest.approx(float(ref_norm), rel=1e-6)
    for p, q in zip(ours.parameters(), ref.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, rtol=1e-6, atol=1e-9)
    clipped = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in ours.parameters()]))
    assert float(clipped) == pytest.approx(min(norm, theta), rel=1e-5)


def test_grad_clipping_on_scratch_models_and_tensor_lists():
    class Scratch:  # a d2l-style model from scratch: parameters in `.params`
        def __init__(self, net):
            self.params = list(net.parameters())

    ref = _with_grads(1, 50.0)
    nn.utils.clip_grad_norm_(ref.parameters(), 0.5)
    for wrap in (Scratch, lambda net: list(net.parameters())):
        net = _with_grads(1, 50.0)
        grad_clipping(wrap(net), 0.5)
        for p, q in zip(net.parameters(), ref.parameters(), strict=True):
            assert torch.allclose(p.grad, q.grad, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("n, k", [(23, 5), (20, 4), (7, 7)])
def test_k_fold_indices_partition(n, k):
    folds = k_fold_indices(n, k, seed=0)
    assert len(folds) == k
    vals = [val.tolist() for _, val in folds]
    assert sorted(i for v in vals for i in v) == list(range(n))  # each index validates once
    assert max(map(len, vals)) - min(map(len, vals)) <= 1
    for train, val in folds:
        assert train.dtype == torch.int64
        assert sorted(train.tolist() + val.tolist()) == list(range(n))
        assert not set(train.tolist()) & set(val.tolist())
    again = k_fold_indices(n, k, seed=0)
    assert all(torch.equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))


def test_k_fold_indices_contiguous_and_errors():
    folds = k_fold_indices(12, 3, seed=None)
    assert [v.tolist() for _, v in folds] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert folds[1][0].tolist() == [0, 1, 2, 3, 8, 9, 10, 11]
    for n, k in [(5, 1), (3, 4)]:
        with pytest.raises(ValueError, match="2 <= k <= n"):
            k_fold_indices(n, k)


# ------------------------------------------------------------------ fit

def _blobs(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centers = torch.tensor([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.5]])
    return centers[y] + 0.6 * torch.randn(n, 2, generator=g), y


def test_fit_learns_a_tiny_problem():
    torch.manual_seed(0)
    train = TensorLoader(*_blobs(512, 0), batch_size=32, shuffle=True, device=CPU)
    test = TensorLoader(*_blobs(256, 1), batch_size=128, device=CPU)
    net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    h = fit(net, train, test, epochs=4, lr=0.1, init="xavier", **QUIET)
    assert isinstance(h, History)
    assert set(h) == {"train_loss", "train_acc", "test_acc", "examples_per_sec", "epoch_time"}
    assert all(len(v) == 4 for v in h.values())
    assert all(b < a for a, b in zip(h.train_loss, h.train_loss[1:], strict=False))
    assert h.final["test_acc"] > 0.9 and h.final["train_acc"] > 0.9
    assert h.final["test_acc"] == evaluate_accuracy(net, test)
    assert all(v > 0 for v in h.examples_per_sec)


def test_fit_regression_and_lazy_layers():
    torch.manual_seed(0)
    X = torch.randn(256, 3)
    y = X @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    net = nn.Sequential(nn.LazyLinear(1))  # fit materializes it before building the optimizer
    h = fit(net, TensorLoader(X, y, batch_size=32, shuffle=True, device=CPU), None,
            epochs=5, lr=0.1, loss=nn.MSELoss(), **QUIET)
    assert "train_acc" not in h and "test_acc" not in h
    assert h.train_loss[-1] < h.train_loss[0] / 10
    assert net[0].weight.shape == (1, 3)


def test_fit_regression_with_flat_targets_reaches_the_true_weights():
    """(B, 1) outputs against (B,) targets: MSE must not broadcast to (B, B)."""
    torch.manual_seed(0)
    X = torch.randn(512, 3)
    w, b = torch.tensor([1.0, -2.0, 0.5]), 0.3
    y = X @ w + b  # (n,), as synthetic_linear and the tables give them
    net = nn.Linear(3, 1)
    loader = TensorLoader(X, y, batch_size=32, shuffle=True, device=CPU)
    h = fit(net, loader, None, epochs=10, lr=0.1, loss=nn.MSELoss(), **QUIET)
    residual = nn.functional.mse_loss(net(X).reshape(-1), y).item()
    print(f"residual MSE after fit: {residual:.4g}, train_loss {h.final['train_loss']:.4g}")
    assert residual < 1e-6 and h.final["train_loss"] < 1e-4
    torch.testing.assert_close(net.weight.detach().reshape(-1), w, atol=1e-3, rtol=0)
    # evaluate_loss reshapes the same way: it agrees with fit's last loss on this data
    assert evaluate_loss(net, loader, nn.MSELoss()) == pytest.approx(residual, abs=1e-6)


class PerStep(nn.Module):
    """Scores (B, T, C) for (B, T) inputs: one linear layer applied at every step."""

    def __init__(self, vocab: int):
        super().__init__()
        self.emb = nn.Embedding(vocab, vocab)

    def forward(self, X):
        return self.emb(X)


class SequenceLoss(nn.Module):
    """Cross-entropy over (B, T, C) scores and (B, T) labels, classes on the last axis."""

    def forward(self, y_hat, y):
        return nn.functional.cross_entropy(y_hat.reshape(-1, y_hat.shape[-1]), y.reshape(-1))


def test_fit_train_acc_counts_elements_for_sequence_labels():
    """(B, T) labels: train_acc is correct / B*T, as accuracy and evaluate_accuracy count."""
    torch.manual_seed(0)
    X = torch.randint(0, 5, (64, 7))  # label = input token: learnable exactly
    loader = TensorLoader(X, X.clone(), batch_size=16, shuffle=True, device=CPU)
    net = PerStep(5)
    h = fit(net, loader, loader, epochs=30, lr=2.0, loss=SequenceLoss(), **QUIET)
    print(f"train_acc {h.final['train_acc']}, test_acc {h.final['test_acc']}")
    assert h.final["test_acc"] == 1.0 == h.final["train_acc"]
    assert all(0.0 <= a <= 1.0 for a in h.train_acc)


def test_labels_ignored_by_the_loss_are_not_counted_as_predictions():
    """-100 (CrossEntropyLoss's ignore_index, e.g. padding) is neither right nor wrong:
    accuracy, evaluate_accuracy and fit's train_acc leave it out of the count and the total."""
    torch.manual_seed(0)
    X = torch.randint(0, 5, (64, 7))
    y = X.clone()
    y[::2, -3:] = -100  # padding at the end of every other sequence: 96 of 448 labels
    counted = int((y >= 0).sum())
    assert counted == 448 - 96
    assert int(accuracy(y.clone(), y)) == counted  # predicted labels equal to -100 do not count
    perfect = nn.functional.one_hot(X, 5).float()  # scores that pick the input token
    assert int(accuracy(perfect, y)) == counted
    loader = TensorLoader(X, y, batch_size=16, shuffle=True, device=CPU)
    assert evaluate_accuracy(lambda X: nn.functional.one_hot(X, 5).float(), loader, CPU) == 1.0
    net = PerStep(5)
    h = fit(net, loader, loader, epochs=30, lr=2.0, loss=SequenceLoss(), **QUIET)
    print(f"train_acc {h.final['train_acc']}, test_acc {h.final['test_acc']}")
    assert h.final["test_acc"] == 1.0 == h.final["train_acc"]


def test_fit_with_an_optimizer_and_scheduler():
    torch.manual_seed(0)
    train = TensorLoader(*_blobs(256, 0), batch_size=32, shuffle=True, device=CPU)
    net = nn.Linear(2, 3)
    opt = torch.optim.SGD(net.parameters(), lr=0.2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    fit(net, train, None, epochs=2, optimizer=opt, scheduler=sched, **QUIET)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


def test_fit_steps_a_one_cycle_schedule_per_batch():
    """scheduler_step="batch": one scheduler step per optimizer step, as OneCycleLR is meant."""
    torch.manual_seed(0)
    train = TensorLoader(*_blobs(256, 0), batch_size=32, shuffle=True, device=CPU)
    net = nn.Linear(2, 3)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    epochs = 3
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=epochs * len(train))
    lrs = []
    opt.register_step_post_hook(lambda o, args, kwargs: lrs.append(o.param_groups[0]["lr"]))
    h = fit(net, train, None, epochs=epochs, optimizer=opt, scheduler=sched,
            scheduler_step="batch", **QUIET)
    assert sched.last_epoch == epochs * len(train) == len(lrs) == 24
    peak = lrs.index(max(lrs))
    assert max(lrs) == pytest.approx(0.5, rel=0.01)
    assert 0 < peak < len(lrs) - 1  # warm-up, then decay
    assert lrs[-1] < lrs[0] / 100
    assert h.final["train_acc"] > 0.9


class RecordingPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.metrics = []

    def step(self, metrics, *args, **kwargs):
        self.metrics.append(metrics)
        super().step(metrics, *args, **kwargs)


@pytest.mark.parametrize("mode, with_test, watched", [
    ("min", True, "train_loss"), ("max", True, "test_acc"), ("max", False, "train_acc"),
])
def test_fit_steps_reduce_on_plateau_on_the_metric_its_mode_watches(mode, with_test, watched):
    torch.manual_seed(0)
    train = TensorLoader(*_blobs(128, 0), batch_size=32, device=CPU)
    test = TensorLoader(*_blobs(64, 1), batch_size=64, device=CPU) if with_test else None
    net = nn.Linear(2, 3)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sched = RecordingPlateau(opt, mode=mode)
    h = fit(net, train, test, epochs=2, optimizer=opt, scheduler=sched, **QUIET)
    assert sched.metrics == h[watched]


def test_fit_scheduler_step_errors():
    train = TensorLoader(*_blobs(64, 0), batch_size=32, device=CPU)
    net = nn.Linear(2, 3)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="scheduler_step must be 'epoch' or 'batch'"):
        fit(net, train, None, epochs=1, optimizer=opt, scheduler_step="step", **QUIET)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
    with pytest.raises(ValueError, match="ReduceLROnPlateau is stepped per epoch"):
        fit(net, train, None, epochs=1, optimizer=opt, scheduler=plateau,
            scheduler_step="batch", **QUIET)
    regression = TensorLoader(torch.randn(64, 2), torch.randn(64), batch_size=32, device=CPU)
    net = nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="watches an accuracy"):
        fit(net, regression, None, epochs=1, optimizer=opt, loss=nn.MSELoss(),
            scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max"), **QUIET)


def _tiny_cnn() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.Sigmoid(), nn.AvgPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def test_channels_last_is_opt_in_and_not_used_on_mps():
    assert use_channels_last(CPU, True) and not use_channels_last(CPU, False)
    assert use_channels_last(torch.device("cuda"), True)
    with pytest.warns(UserWarning, match="not used on MPS"):
        assert not use_channels_last(torch.device("mps"), True)


def test_fit_channels_last_on_the_cpu_changes_the_layout_not_the_results():
    """channels_last=True on the CPU: channels-last weights, the same training up to rounding."""
    g = torch.Generator().manual_seed(0)
    X, y = torch.rand(96, 2, 8, 8, generator=g), torch.randint(0, 3, (96,), generator=g)
    runs = {}
    for layout in (True, False):
        torch.manual_seed(0)
        net = _tiny_cnn()
        loader = TensorLoader(X, y, batch_size=32, shuffle=True, device=CPU)
        runs[layout] = (net, fit(net, loader, None, epochs=3, lr=0.5, channels_last=layout,
                                 **QUIET))
    conv_nhwc, conv_plain = runs[True][0][0].weight, runs[False][0][0].weight
    assert conv_nhwc.is_contiguous(memory_format=torch.channels_last)
    assert not conv_nhwc.is_contiguous() and conv_plain.is_contiguous()
    torch.testing.assert_close(conv_nhwc, conv_plain, rtol=1e-4, atol=1e-5)
    losses = [runs[k][1].train_loss for k in (True, False)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)


def test_fit_compile_trains_and_evaluates_the_compiled_model(monkeypatch):
    """compile=True: batches and the test set go through torch.compile's module (faked here:
    a real compile takes longer than this whole file); the weights are the net's own."""
    calls = []

    class Compiled(nn.Module):
        def __init__(self, net):
            super().__init__()
            self._orig_mod = net

        def forward(self, X):
            calls.append(self.training)
            return self._orig_mod(X)

    monkeypatch.setattr(torch, "compile", lambda net, *args, **kwargs: Compiled(net))
    torch.manual_seed(0)
    train = TensorLoader(*_blobs(128, 0), batch_size=32, device=CPU)
    net = nn.Linear(2, 3)
    h = fit(net, train, train, epochs=2, lr=0.5, compile=True, **QUIET)
    assert calls == ([True] * 4 + [False] * 4) * 2  # 4 training batches, then 4 evaluated
    assert h.final["test_acc"] == evaluate_accuracy(net, train)


def test_fit_amp_off_cuda_warns_and_trains_in_float32():
    torch.manual_seed(0)
    train = TensorLoader(*_blobs(128, 0), batch_size=32, device=CPU)
    net = nn.Linear(2, 3)
    with pytest.warns(UserWarning, match="amp=True is only used on CUDA"):
        h = fit(net, train, None, epochs=2, lr=0.5, amp=True, **QUIET)
    assert h.train_loss[-1] < h.train_loss[0] and net.weight.dtype == torch.float32


def test_fit_wrong_input_shape_is_explained():
    train = TensorLoader(torch.rand(8, 1, 28, 28), torch.zeros(8, dtype=torch.long),
                         batch_size=4, device=CPU)
    with pytest.raises(ValueError, match="does not fit the model") as err:
        fit(nn.Linear(784, 10), train, None, epochs=1, lr=0.1, **QUIET)
    msg = str(err.value)
    assert "(4, 1, 28, 28)" in msg and "nn.Flatten()" in msg and "Linear(in_features=784" in msg


def test_fit_labels_out_of_range_are_explained():
    train = TensorLoader(torch.rand(8, 4), torch.arange(8), batch_size=8, device=CPU)
    with pytest.raises(ValueError, match=r"labels range over \[0, 7\]") as err:
        fit(nn.Linear(4, 5), train, None, epochs=1, lr=0.1, **QUIET)
    assert "5 scores" in str(err.value)


def test_fit_mismatched_targets_are_explained():
    train = TensorLoader(torch.rand(8, 4), torch.rand(8, 3), batch_size=8, device=CPU)
    with pytest.raises(ValueError, match="the loss cannot compare"):
        fit(nn.Linear(4, 2), train, None, epochs=1, lr=0.1, loss=nn.MSELoss(), **QUIET)
    # (B, 1) outputs and (B, 3) targets would broadcast without an error: refused as well,
    # by fit and by evaluate_loss alike
    for run in (lambda: fit(nn.Linear(4, 1), train, None, epochs=1, lr=0.1,
                            loss=nn.MSELoss(), **QUIET),
                lambda: evaluate_loss(nn.Linear(4, 1), train, nn.MSELoss())):
        with pytest.raises(ValueError, match=r"MSELoss compares them element by element"):
            run()


def test_fit_argument_errors():
    train = TensorLoader(torch.rand(8, 4), torch.zeros(8, dtype=torch.long), batch_size=8,
                         device=CPU)
    with pytest.raises(ValueError, match="needs lr"):
        fit(nn.Linear(4, 2), train, None, epochs=1, **QUIET)
    with pytest.raises(ValueError, match="init must be"):
        fit(nn.Linear(4, 2), train, None, epochs=1, lr=0.1, init="orthogonal", **QUIET)
    with pytest.raises(ValueError, match="train_iter is empty"):
        fit(nn.Linear(4, 2), [], None, epochs=1, lr=0.1, **QUIET)


def test_softmax_regression_on_fashion_mnist_one_epoch(monkeypatch):
    """The one real run: all 60,000 training images, one epoch, d2l's settings."""
    monkeypatch.delenv("D2L_QUICK", raising=False)
    d2lutils.set_seed(0)
    train, test = fashion_mnist(256, device=CPU)
    assert train.num_examples == 60000 and test.num_examples == 10000
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    h = fit(net, train, test, epochs=1, lr=0.1, **QUIET)
    assert h.final["test_acc"] >= 0.75
    assert h.final["train_loss"] < math.log(10)  # better than chance


# ------------------------------------------------------------------ language models

class TinyLM(nn.Module):
    def __init__(self, vocab_size: int, hidden: int = 32):
        super().__init__()
        self.hidden = hidden
        self.emb = nn.Embedding(vocab_size, 16)
        self.rnn = nn.GRU(16, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def begin_state(self, batch_size, device):
        return torch.zeros(1, batch_size, self.hidden, device=device)

    def forward(self, X, state):
        Y, state = self.rnn(self.emb(X), state)
        return self.out(Y), state


class Uniform(nn.Module):
    """Scores every token the same: perplexity is exactly the vocabulary size."""

    def __init__(self, vocab_size):
        super().__init__()
        self.vocab_size = vocab_size
        self.bias = nn.Parameter(torch.zeros(()))

    def begin_state(self, batch_size, device):
        return None

    def forward(self, X, state):
        return torch.zeros(*X.shape, self.vocab_size) * self.bias, state


@pytest.fixture(scope="module")
def tiny_corpus():
    tokens = list("the quick brown fox jumps over the lazy dog " * 30)
    vocab = Vocab(tokens)
    return vocab[tokens], vocab


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size(tiny_corpus):
    corpus, vocab = tiny_corpus
    loader = SeqLoader(corpus, 4, 10, device=CPU)
    assert perplexity(Uniform(len(vocab)), loader, CPU) == pytest.approx(len(vocab), rel=1e-6)


def test_train_lm_lowers_perplexity(tiny_corpus):
    corpus, vocab = tiny_corpus
    torch.manual_seed(0)
    train = SeqLoader(corpus[:1100], 8, 10, device=CPU)
    val = SeqLoader(corpus[1100:], 4, 10, random_offset=False, device=CPU)
    net = TinyLM(len(vocab))
    before = perplexity(net, val, CPU)
    h = train_lm(net, train, vocab, optimizer=torch.optim.Adam(net.parameters(), lr=0.01),
                 epochs=4, val_iter=val, **QUIET)
    assert set(h) == {"train_ppl", "val_ppl", "tokens_per_sec", "epoch_time"}
    assert len(h.train_ppl) == 4
    assert h.train_ppl[-1] < h.train_ppl[0] and h.val_ppl[-1] < h.val_ppl[0]
    assert h.val_ppl[-1] < before / 4 and h.val_ppl[-1] < 2.0
    assert h.val_ppl[-1] == pytest.approx(perplexity(net, val, CPU))
    text = predict_lm("the quick", 10, net, vocab, CPU)
    assert text.startswith("the quick") and len(text) == 19
    assert text == "the quick brown fox"


def test_train_lm_random_iter_and_checks(tiny_corpus):
    corpus, vocab = tiny_corpus
    torch.manual_seed(0)
    train = SeqLoader(corpus, 8, 10, random_iter=True, device=CPU)
    net = TinyLM(len(vocab))
    h = train_lm(net, train, vocab, lr=1.0, epochs=2, random_iter=True, **QUIET)
    assert h.train_ppl[-1] < h.train_ppl[0]
    with pytest.raises(ValueError, match="vocabulary has"):
        train_lm(TinyLM(len(vocab) + 1), train, vocab, lr=1.0, epochs=1, **QUIET)
    with pytest.raises(ValueError, match="needs lr"):
        train_lm(net, train, vocab, epochs=1, **QUIET)


class StateRecorder(nn.Module):
    """Counts batches in its state (state + 1 per call) and records the state it is given."""

    def __init__(self, vocab_size):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, vocab_size)
        self.seen = []

    def begin_state(self, batch_size, device):
        return torch.zeros(batch_size, 1, device=device)

    def forward(self, X, state):
        self.seen.append((state[0, 0].item(), state.requires_grad))
        logits = self.emb(X)
        return logits, state + 1 + 0 * logits.mean()  # the new state carries autograd history


@pytest.mark.parametrize("random_iter", [False, True])
def test_train_lm_carries_state_only_for_sequential_batches(tiny_corpus, random_iter):
    corpus, vocab = tiny_corpus
    train = SeqLoader(corpus, 8, 10, random_iter=random_iter, device=CPU)
    n = len(train)
    net = StateRecorder(len(vocab))
    train_lm(net, train, vocab, lr=0.1, epochs=2, random_iter=random_iter, **QUIET)
    counts = [count for count, _ in net.seen]
    if random_iter:  # every batch starts afresh
        assert counts == [0.0] * (2 * n)
    else:  # carried from batch to batch, reset at each epoch
        assert counts == [float(i) for i in range(n)] * 2
    assert not any(requires_grad for _, requires_grad in net.seen)  # detached between batches


# ------------------------------------------------------------------ one-shot and empty data

def _one_shot(X, y, batch_size=16):
    return ((X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(X), batch_size))


def test_fit_refuses_a_one_shot_iterator_it_would_read_again():
    """A generator yields its batches once: from the second epoch on, fit would see no batch
    and report train_loss 0 (or test_acc 0) as if it had measured them."""
    X = torch.randn(64, 2)
    y = (X[:, 0] > 0).long()
    for train_iter, test_iter, name in ((_one_shot(X, y), None, "train_iter"),
                                        ([(X, y)], _one_shot(X, y), "test_iter")):
        with pytest.raises(ValueError, match=rf"{name} is a one-shot iterator") as info:
            fit(nn.Linear(2, 2), train_iter, test_iter, epochs=3, lr=0.1, **QUIET)
        assert f"list({name})" in str(info.value)
    h = fit(nn.Linear(2, 2), _one_shot(X, y), _one_shot(X, y), epochs=1, lr=0.1, **QUIET)
    assert h.final["test_acc"] > 0  # one epoch reads each once: allowed


def test_train_lm_refuses_one_shot_and_empty_training_data(tiny_corpus):
    corpus, vocab = tiny_corpus
    batches = iter(SeqLoader(corpus, 4, 10, device=CPU))
    with pytest.raises(ValueError, match="train_iter is a one-shot iterator"):
        train_lm(TinyLM(len(vocab)), batches, vocab, lr=1.0, epochs=2, **QUIET)
    with pytest.raises(ValueError, match="val_iter is a one-shot iterator"):
        train_lm(TinyLM(len(vocab)), list(batches), vocab, lr=1.0, epochs=2,
                 val_iter=iter(list(batches)), **QUIET)
    with pytest.raises(ValueError, match="train_iter is empty"):  # not train_ppl 1.0
        train_lm(TinyLM(len(vocab)), [], vocab, lr=1.0, epochs=1, **QUIET)


@pytest.mark.parametrize("helper", ["evaluate_accuracy", "evaluate_loss", "perplexity"])
def test_evaluating_no_batches_is_an_error_not_a_score(helper, tiny_corpus):
    """An empty test set has no accuracy: 0.0 (or a loss of 0) would read as a result."""
    call = {
        "evaluate_accuracy": lambda: evaluate_accuracy(nn.Linear(2, 2), [], CPU),
        "evaluate_loss": lambda: evaluate_loss(nn.Linear(2, 2), [], nn.MSELoss(), CPU),
        "perplexity": lambda: perplexity(Uniform(len(tiny_corpus[1])), [], CPU),
    }[helper]
    with pytest.raises(ValueError, match=f"{helper}: data_iter is empty") as info:
        call()
    assert "Hint:" in str(info.value)
