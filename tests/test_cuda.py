"""The GPU paths, on a CUDA device: loaders, fit (amp, channels-last, compile), evaluation,
train_lm, checkpoints. Every test is skipped, with the reason, when CUDA is absent; the same
code paths have CPU tests (amp's choice of dtype with the GPU mocked: test_train_amp.py).

Small problems, a few seconds each; nothing here measures speed.
"""

import pytest
import torch
from torch import nn

from d2lutils.data import SeqLoader, TensorLoader, Vocab
from d2lutils.train import (
    evaluate_accuracy,
    evaluate_loss,
    fit,
    load_model,
    perplexity,
    predict_lm,
    save_model,
    train_lm,
)
from d2lutils.train.loop import mixed_precision

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CUDA = torch.device("cuda")
QUIET = {"device": CUDA, "plot": False, "progress": False}


def _blobs(n: int, seed: int, device=CUDA):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centers = torch.tensor([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.5]])
    return (centers[y] + 0.6 * torch.randn(n, 2, generator=g)).to(device), y.to(device)


def _images(n: int, seed: int):
    """(n, 2, 8, 8) images whose class is the quadrant holding a bright square."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    X = 0.1 * torch.rand(n, 2, 8, 8, generator=g)
    for c in range(4):
        r, s = divmod(c, 2)
        X[y == c, :, 4 * r:4 * r + 4, 4 * s:4 * s + 4] += 1.0
    return X, y


def _cnn() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 4))


def test_tensor_loader_serves_batches_on_the_gpu():
    X, y = _images(100, 0)
    loader = TensorLoader(X, y, batch_size=32, shuffle=True, device=CUDA,
                          transform=lambda x: x * 2)
    assert all(t.is_cuda for t in loader.tensors)
    batches = list(loader)
    assert len(batches) == len(loader) == 4
    assert all(Xb.is_cuda and yb.is_cuda for Xb, yb in batches)
    assert torch.cat([yb for _, yb in batches]).sort().values.equal(y.to(CUDA).sort().values)
    assert torch.allclose(sum(Xb.sum() for Xb, _ in batches), 2 * X.sum().to(CUDA))


def test_fit_on_the_gpu_learns_and_evaluates_there():
    torch.manual_seed(0)
    train = TensorLoader(*_blobs(512, 0), batch_size=64, shuffle=True, device=CUDA)
    test = TensorLoader(*_blobs(256, 1), batch_size=128, device=CUDA)
    net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    h = fit(net, train, test, epochs=4, lr=0.1, **QUIET)
    assert next(net.parameters()).is_cuda
    assert h.final["test_acc"] > 0.9 and h.final["train_acc"] > 0.9
    assert h.final["test_acc"] == evaluate_accuracy(net, test)  # device None: where net is


@pytest.mark.parametrize("amp", ["bf16", "fp16", True])
def test_fit_with_amp(amp):
    torch.manual_seed(0)
    X, y = _images(512, 0)
    train = TensorLoader(X, y, batch_size=64, shuffle=True, device=CUDA)
    net = _cnn()
    h = fit(net, train, train, epochs=3, lr=0.1, amp=amp, **QUIET)
    dtype, scaler = mixed_precision(amp, CUDA)
    assert dtype in (torch.bfloat16, torch.float16)
    if amp is True:  # by compute capability: bf16 from Ampere (8.0) on
        expected = torch.bfloat16 if torch.cuda.get_device_capability() >= (8, 0) else (
            torch.float16)
        assert dtype == expected
    assert (scaler is not None) == (dtype == torch.float16)
    assert all(p.dtype == torch.float32 for p in net.parameters())  # weights stay float32
    assert all(torch.isfinite(torch.tensor(v)) for v in h.train_loss)
    assert h.train_loss[-1] < h.train_loss[0] and h.final["test_acc"] > 0.9


def test_fit_channels_last_on_the_gpu():
    X, y = _images(256, 0)
    runs = {}
    for layout in (True, False):
        torch.manual_seed(0)
        net = _cnn()
        loader = TensorLoader(X, y, batch_size=64, device=CUDA)
        runs[layout] = (net, fit(net, loader, None, epochs=2, lr=0.1, channels_last=layout,
                                 **QUIET))
    assert runs[True][0][0].weight.is_contiguous(memory_format=torch.channels_last)
    # cuDNN may pick other algorithms for the two layouts: equal up to float32 rounding
    assert runs[True][1].train_loss == pytest.approx(runs[False][1].train_loss, rel=1e-3)


def test_fit_with_compile():
    torch.manual_seed(0)
    train = TensorLoader(*_blobs(512, 0), batch_size=64, shuffle=True, drop_last=True,
                         device=CUDA)
    net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    h = fit(net, train, train, epochs=3, lr=0.1, compile=True, **QUIET)
    assert h.final["test_acc"] > 0.9
    assert evaluate_accuracy(net, train) == pytest.approx(h.final["test_acc"], abs=1e-6)


def test_eval_helpers_on_the_gpu_agree_with_the_cpu():
    torch.manual_seed(0)
    X, y = _blobs(300, 0, device="cpu")
    net = nn.Linear(2, 3)
    cpu = (evaluate_accuracy(net, TensorLoader(X, y, batch_size=64, device="cpu")),
           evaluate_loss(net, TensorLoader(X, y, batch_size=64, device="cpu"),
                         nn.CrossEntropyLoss()))
    net.to(CUDA)
    gpu = TensorLoader(X, y, batch_size=64, device=CUDA)
    assert evaluate_accuracy(net, gpu) == cpu[0]
    assert evaluate_loss(net, gpu, nn.CrossEntropyLoss()) == pytest.approx(cpu[1], rel=1e-5)


class TinyLM(nn.Module):
    def __init__(self, vocab_size: int, hidden: int = 32):
        super().__init__()
        self.hidden = hidden
        self.emb = nn.Embedding(vocab_size, 16)
        self.rnn = nn.LSTM(16, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def begin_state(self, batch_size, device):
        zeros = torch.zeros(1, batch_size, self.hidden, device=device)
        return zeros, zeros.clone()

    def forward(self, X, state):
        Y, state = self.rnn(self.emb(X), state)
        return self.out(Y), state


def test_train_lm_on_the_gpu():
    tokens = list("the quick brown fox jumps over the lazy dog " * 30)
    vocab = Vocab(tokens)
    corpus = vocab[tokens]
    torch.manual_seed(0)
    train = SeqLoader(corpus[:1100], 8, 10, device=CUDA)
    val = SeqLoader(corpus[1100:], 4, 10, random_offset=False, device=CUDA)
    net = TinyLM(len(vocab))
    h = train_lm(net, train, vocab, optimizer=None, lr=1.0, epochs=1, **QUIET)  # moves net
    assert next(net.parameters()).is_cuda
    h = train_lm(net, train, vocab, optimizer=torch.optim.Adam(net.parameters(), lr=0.01),
                 epochs=4, val_iter=val, **QUIET)
    assert h.val_ppl[-1] < h.val_ppl[0] and h.val_ppl[-1] < 2.0
    assert perplexity(net, val) == pytest.approx(h.val_ppl[-1], rel=1e-5)  # stays on the GPU
    text = predict_lm("the quick", 10, net, vocab)
    assert text.startswith("the quick") and len(text) == 19
    assert next(net.parameters()).is_cuda


def test_a_gpu_checkpoint_loads_on_the_cpu(tmp_path):
    net = _cnn().to(CUDA)
    path = save_model(net, tmp_path / "cnn.pt")
    other = load_model(_cnn(), path)
    assert not next(other.parameters()).is_cuda
    X = torch.rand(4, 2, 8, 8)
    net.eval(), other.eval()
    torch.testing.assert_close(other(X), net(X.to(CUDA)).cpu(), rtol=1e-4, atol=1e-5)
