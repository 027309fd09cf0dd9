"""load_model checks a checkpoint against the model without copying the model."""

import copy

import pytest
import torch
from torch import nn

from d2lutils.train import load_model, save_model


def mlp(hidden: int, extra: bool = False) -> nn.Sequential:
    layers = [nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10)]
    if extra:
        layers += [nn.ReLU(), nn.Linear(10, 10)]
    return nn.Sequential(*layers)


@pytest.fixture
def no_deepcopy(monkeypatch):
    """Fail any deep copy: a model can be larger than the memory left for a second one."""

    def refuse(obj, memo=None):
        raise AssertionError(f"load_model deep-copied a {type(obj).__name__}")

    monkeypatch.setattr(copy, "deepcopy", refuse)


@pytest.mark.parametrize("other, expected", [
    (lambda: mlp(64), ["size mismatch for 1.weight: copying a param with shape "
                       "torch.Size([32, 784]) from checkpoint, the shape in current model is "
                       "torch.Size([64, 784])", "size mismatch for 3.weight"]),
    (lambda: mlp(32, extra=True), ['Missing key(s) in state_dict: "5.weight", "5.bias"']),
    (lambda: nn.Sequential(*list(mlp(32))[:2]), ['Unexpected key(s) in state_dict: '
                                                  '"3.weight", "3.bias"']),
], ids=["sizes", "missing", "unexpected"])
def test_a_mismatch_is_reported_without_copying_the_model(tmp_path, no_deepcopy, other,
                                                           expected):
    torch.manual_seed(0)
    path = save_model(mlp(32), tmp_path / "mlp.pt")
    net = other()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(ValueError) as info:
        load_model(net, path)
    message = str(info.value)
    assert f"the weights in {path} do not fit this Sequential" in message
    for text in expected:
        assert text in message
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())  # unchanged


def test_strict_false_loads_what_fits_and_still_refuses_other_sizes(tmp_path, no_deepcopy):
    torch.manual_seed(0)
    saved = mlp(32)
    path = save_model(saved, tmp_path / "mlp.pt")
    deeper = mlp(32, extra=True)
    assert load_model(deeper, path, strict=False) is deeper
    assert torch.equal(deeper[1].weight, saved[1].weight)
    wider = mlp(64)
    before = wider[3].weight.clone()
    with pytest.raises(ValueError, match="size mismatch for 1.weight"):
        load_model(wider, path, strict=False)
    assert torch.equal(wider[3].weight, before)  # nothing was copied in before the refusal
