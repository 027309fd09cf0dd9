"""What `fit`, `train_lm` and the evaluation helpers share: targets, devices, eval mode."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

# losses that compare output and target element by element, broadcasting unequal shapes
_ELEMENTWISE = (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss, nn.BCELoss,
                nn.BCEWithLogitsLoss)


def match_targets(loss: Callable, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """`y` in the shape of `out` when an element-wise comparison is meant (as in d2l).

    Float targets with as many elements as the output are reshaped to it, so (B,) regression
    targets meet (B, 1) outputs instead of broadcasting to (B, B), which trains a linear model
    to predict the mean. An element-wise loss (MSE, L1, Huber, BCE) between other shapes is
    refused with a ValueError. Class labels are returned unchanged.
    """
    if not y.is_floating_point() or y.shape == out.shape:
        return y
    if y.numel() == out.numel():
        return y.reshape(out.shape)
    if isinstance(loss, _ELEMENTWISE):
        raise ValueError(
            f"the loss cannot compare the model output {tuple(out.shape)} with the targets "
            f"{tuple(y.shape)}: {type(loss).__name__} compares them element by element and "
            "would broadcast them. Hint: give the model as many outputs per example as the "
            "target has values (e.g. nn.Linear(..., 1) for one number)."
        )
    return y


@contextlib.contextmanager
def evaluating(net: Any) -> Iterator[None]:
    """Run the body with `net` in eval mode and without gradients; restore its modes after.

    Every submodule gets back the train/eval mode it had (a frozen batch norm in a training
    model stays frozen), also when the body raises. `net` may be a plain function or a
    scratch model, for which only gradients are turned off.
    """
    modes = [(m, m.training) for m in net.modules()] if isinstance(net, nn.Module) else []
    if isinstance(net, nn.Module):
        net.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, mode in modes:
            module.training = mode
