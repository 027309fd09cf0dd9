"""The evaluation helpers: train/eval mode restored even when the model raises; devices."""

import pytest
import torch
from torch import nn

from d2lutils.data import SeqLoader, TensorLoader, Vocab
from d2lutils.train import evaluate_accuracy, evaluate_loss, perplexity, predict_lm

CPU = torch.device("cpu")


class Broken(nn.Module):
    """A classifier that raises on its `fail_at`-th call (1-based), as a bug or bad batch would."""

    def __init__(self, vocab_size: int = 6, fail_at: int = 1):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, vocab_size)
        self.drop = nn.Dropout(0.5)
        self.calls, self.fail_at = 0, fail_at

    def forward(self, X):
        self.calls += 1
        if self.calls >= self.fail_at:
            raise RuntimeError("boom")
        return self.drop(self.emb(X))


class BrokenLM(Broken):
    """The same as a language model: ``net(X, state) -> (logits, state)``."""

    def begin_state(self, batch_size, device):
        return None

    def forward(self, X, state):
        return super().forward(X), state


@pytest.fixture
def lm_data():
    tokens = list("abcdeabcdeabcde" * 10)
    vocab = Vocab(tokens)
    return SeqLoader(vocab[tokens], 2, 5, random_offset=False, device=CPU), vocab


def _classifier_data():
    X = torch.randint(0, 6, (12,))
    return TensorLoader(X, X.clone(), batch_size=4, device=CPU)


HELPERS = ["evaluate_accuracy", "evaluate_loss", "perplexity", "predict_lm"]


def _model(helper: str, fail_at: int = 10**6) -> Broken:
    lm = helper in ("perplexity", "predict_lm")
    return (BrokenLM if lm else Broken)(fail_at=fail_at)


def _run(helper: str, net: nn.Module, lm_data) -> None:
    loader, vocab = lm_data
    if helper == "evaluate_accuracy":
        evaluate_accuracy(net, _classifier_data())
    elif helper == "evaluate_loss":
        evaluate_loss(net, _classifier_data(), nn.CrossEntropyLoss())
    elif helper == "perplexity":
        perplexity(net, loader, CPU)
    else:
        predict_lm("abc", 3, net, vocab, CPU)


@pytest.mark.parametrize("fail_at", [1, 2])
@pytest.mark.parametrize("helper", HELPERS)
def test_eval_helpers_restore_train_mode_when_the_model_raises(helper, fail_at, lm_data):
    net = _model(helper, fail_at)
    net.train()
    with pytest.raises(RuntimeError, match="boom"):
        _run(helper, net, lm_data)
    assert net.calls == fail_at  # it did fail where planned, after fail_at - 1 good calls
    assert net.training and net.drop.training, f"{helper} left the model in eval mode"


@pytest.mark.parametrize("helper", HELPERS)
def test_eval_helpers_evaluate_in_eval_mode_and_restore_it(helper, lm_data):
    """Dropout is off while evaluating; the mode the model had comes back, whichever it was."""
    for mode in (True, False):
        net = _model(helper)
        net.train(mode)
        seen: list[bool] = []
        net.drop.register_forward_hook(lambda m, i, o, seen=seen: seen.append(m.training))
        _run(helper, net, lm_data)
        assert seen and not any(seen)
        assert net.training is mode


@pytest.mark.parametrize("helper", HELPERS)
def test_eval_helpers_restore_every_submodule_mode(helper, lm_data):
    """A frozen (eval-mode) layer inside a training model stays frozen afterwards."""
    net = _model(helper)
    net.train()
    net.drop.eval()
    _run(helper, net, lm_data)
    assert net.training and net.emb.training and not net.drop.training


class SmallLM(nn.Module):
    def __init__(self, vocab_size: int = 6):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, vocab_size)
        self.devices: list[torch.device] = []

    def begin_state(self, batch_size, device):
        self.devices.append(torch.device(device))
        return None

    def forward(self, X, state):
        return self.emb(X), state


@pytest.fixture
def gpu_machine(monkeypatch):
    """d2lutils.device() says cuda, as on a GPU machine (there is none here to move to)."""
    monkeypatch.delenv("D2L_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.mark.parametrize("helper", ["perplexity", "predict_lm"])
def test_lm_eval_helpers_use_the_model_where_it_is(gpu_machine, helper, lm_data):
    """device=None: evaluate where the parameters are; do not move the model to device()."""
    loader, vocab = lm_data
    net = SmallLM(len(vocab))
    moves = []
    net.to = lambda *args, **kwargs: moves.append(args)  # would be a (slow, costly) copy
    if helper == "perplexity":
        result, run_on_cpu = perplexity(net, loader), lambda: perplexity(net, loader, CPU)
    else:
        result, run_on_cpu = predict_lm("abc", 4, net, vocab), lambda: predict_lm(
            "abc", 4, net, vocab, CPU)
    assert moves == []
    assert result == run_on_cpu()
    assert all(d == CPU for d in net.devices)
    assert next(net.parameters()).device == CPU


def test_evaluate_accuracy_uses_the_model_where_it_is(gpu_machine):
    net = Broken(fail_at=10**6)
    assert evaluate_accuracy(net, _classifier_data()) >= 0.0


@pytest.mark.parametrize("helper", HELPERS)
def test_eval_helpers_move_a_module_to_the_device_they_are_given(helper, lm_data):
    """One rule for all four: an explicit device is where the module is evaluated, so it is
    moved there (not left elsewhere to fail on the first batch); None moves nothing."""
    net = _model(helper)
    moves = []
    real_to = net.to
    net.to = lambda *args, **kwargs: moves.append(args) or real_to(*args, **kwargs)
    loader, vocab = lm_data
    calls = {
        "evaluate_accuracy": lambda device: evaluate_accuracy(net, _classifier_data(), device),
        "evaluate_loss": lambda device: evaluate_loss(net, _classifier_data(),
                                                      nn.CrossEntropyLoss(), device),
        "perplexity": lambda device: perplexity(net, loader, device),
        "predict_lm": lambda device: predict_lm("abc", 3, net, vocab, device),
    }
    calls[helper](None)
    assert moves == []
    calls[helper](CPU)
    assert moves == [(CPU,)]
