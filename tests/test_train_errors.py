"""The first-batch checks of `fit` and `train_lm`: explain data that does not fit the model,
and let every other error through as it is (out of memory, a device mismatch, a compiler
failure, a bug in the model), so a learner reads the real cause."""

import pytest
import torch
from torch import nn

from d2lutils.data import SeqLoader, TensorLoader, Vocab
from d2lutils.train import fit, train_lm

CPU = torch.device("cpu")
QUIET = {"device": CPU, "plot": False, "progress": False}


def loader(X: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 8) -> TensorLoader:
    y = torch.randint(0, 3, (len(X),)) if y is None else y
    return TensorLoader(X, y, batch_size=batch_size, device=CPU)


class Raises(nn.Module):
    """A model whose forward raises `error` (it has parameters, for the optimizer)."""

    def __init__(self, error: BaseException):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.error = error

    def forward(self, X, state=None):
        raise self.error

    def begin_state(self, batch_size, device):
        return None


OOM = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
COMPILER = RuntimeError("backend='inductor' raised:\nCalledProcessError: Command '['gcc', "
                        "'-shared', '-fPIC']' returned non-zero exit status 1.")
BUG = RuntimeError("boom: a bug in the learner's forward")


@pytest.mark.parametrize("error", [OOM, COMPILER, BUG, KeyError("state"), TypeError("bad")],
                         ids=["oom", "compiler", "bug", "keyerror", "typeerror"])
def test_fit_lets_other_errors_through_as_they_are(error):
    with pytest.raises(type(error)) as info:
        fit(Raises(error), loader(torch.rand(16, 4)), None, epochs=1, lr=0.1, **QUIET)
    assert info.value is error  # the same exception: type, message and traceback kept


def test_fit_lets_a_real_device_mismatch_through():
    class OtherDevice(nn.Module):  # puts its input on another device than its weights
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 3)

        def forward(self, X):
            return self.lin(X.to("meta"))

    with pytest.raises(RuntimeError, match="device") as info:
        fit(OtherDevice(), loader(torch.rand(16, 4)), None, epochs=1, lr=0.1, **QUIET)
    assert not isinstance(info.value, ValueError)
    assert "does not fit the model" not in str(info.value)


def test_fit_with_compile_lets_a_compiler_failure_through(monkeypatch):
    def broken_compile(net, *args, **kwargs):
        def run(X):
            raise COMPILER
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    with pytest.raises(RuntimeError) as info:
        fit(nn.Linear(4, 3), loader(torch.rand(16, 4)), None, epochs=1, lr=0.1, compile=True,
            **QUIET)
    assert info.value is COMPILER


@pytest.mark.parametrize("net, X, pytorch_says", [
    (nn.Linear(784, 10), torch.rand(8, 1, 28, 28), "shapes cannot be multiplied"),
    (nn.Sequential(nn.Conv2d(1, 6, 5), nn.Flatten(), nn.LazyLinear(3)), torch.rand(8, 784),
     "input to conv2d"),
    (nn.Sequential(nn.Conv2d(1, 6, 5), nn.Flatten(), nn.LazyLinear(3)),
     torch.rand(8, 3, 28, 28), "channels"),
    (nn.Sequential(nn.Conv2d(1, 6, 5), nn.Flatten(), nn.Linear(6, 3)), torch.rand(8, 1, 3, 3),
     "Kernel size can't be greater"),
    (nn.Sequential(nn.BatchNorm1d(6), nn.Linear(3, 3)), torch.rand(8, 3), "running_mean"),
    (nn.Sequential(nn.LayerNorm(10), nn.Linear(10, 3)), torch.rand(8, 5), "normalized_shape"),
], ids=["linear", "conv-flat", "conv-channels", "kernel", "batchnorm", "layernorm"])
def test_fit_explains_shape_errors(net, X, pytorch_says):
    with pytest.raises(ValueError, match="the first batch does not fit the model") as info:
        fit(net, loader(X), None, epochs=1, lr=0.1, **QUIET)
    message = str(info.value)
    assert f"input shape {tuple(X.shape)}" in message and "Hint:" in message
    assert pytorch_says in message
    assert isinstance(info.value.__cause__, RuntimeError)  # chained, PyTorch's error kept


def test_fit_explains_uint8_images_as_a_dtype_problem():
    X = torch.randint(0, 256, (8, 784), dtype=torch.uint8)
    with pytest.raises(ValueError, match="the first batch does not fit the model") as info:
        fit(nn.Linear(784, 3), loader(X), None, epochs=1, lr=0.1, **QUIET)
    message = str(info.value)
    assert "torch.uint8" in message and "X.float()" in message
    assert "nn.Flatten()" not in message  # the shape is fine; the hint is about the dtype


def test_fit_accepts_ignore_index_labels():
    """Labels equal to CrossEntropyLoss's ignore_index (-100) are not out of range."""
    torch.manual_seed(0)
    X = torch.randn(64, 4)
    y = (X[:, 0] > 0).long()
    y[::4] = -100  # padding, or examples without a label
    h = fit(nn.Linear(4, 2), loader(X, y, 16), None, epochs=3, lr=0.5,
            loss=nn.CrossEntropyLoss(ignore_index=-100), **QUIET)
    assert h.train_loss[-1] < h.train_loss[0]
    h = fit(nn.Linear(4, 2), loader(X, y, 16), None, epochs=1, lr=0.5, **QUIET)  # default -100
    assert h.final["train_loss"] > 0
    y[1] = 7
    with pytest.raises(ValueError, match=r"labels range over \[-100, 7\]") as info:
        fit(nn.Linear(4, 2), loader(X, y, 16), None, epochs=1, lr=0.5,
            loss=nn.CrossEntropyLoss(ignore_index=-100), **QUIET)
    assert "labels -100 are ignored" in str(info.value)
    y[1] = -1
    with pytest.raises(ValueError, match=r"labels range over \[-100, 1\]"):
        fit(nn.Linear(4, 2), loader(X, y, 16), None, epochs=1, lr=0.5, **QUIET)


def test_fit_lets_a_loss_bug_through():
    def loss(y_hat, y):
        raise BUG

    with pytest.raises(RuntimeError) as info:
        fit(nn.Linear(4, 3), loader(torch.rand(16, 4)), None, epochs=1, lr=0.1, loss=loss,
            **QUIET)
    assert info.value is BUG


def lm_data():
    tokens = list("the time machine " * 20)
    vocab = Vocab(tokens)
    return SeqLoader(vocab[tokens], 4, 10, device=CPU), vocab


@pytest.mark.parametrize("error", [OOM, COMPILER, BUG], ids=["oom", "compiler", "bug"])
def test_train_lm_lets_other_errors_through_as_they_are(error):
    train, vocab = lm_data()
    with pytest.raises(type(error)) as info:
        train_lm(Raises(error), train, vocab, lr=1.0, epochs=1, **QUIET)
    assert info.value is error
