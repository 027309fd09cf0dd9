"""The first-batch checks of `fit`: data that do not fit the model or the loss, explained.

Only PyTorch's shape, dtype and index errors (`mismatch`) are explained, in a ValueError
chained to PyTorch's own; every other error passes through as it is.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from d2lutils.train.plumbing import match_targets, mismatch


def first_layer(net: nn.Module) -> str:
    """A short description of the first leaf module of `net` (for error messages)."""
    for m in net.modules():
        if not list(m.children()):
            return repr(m)
    return type(net).__name__


_FORWARD_HINTS = {
    "shape": "check that the data's shape matches what the first layer expects, e.g. add "
             "nn.Flatten() before nn.Linear for images, or fix in_features/in_channels (or use "
             "nn.LazyLinear).",
    "dtype": "the layers hold float32 weights: convert the inputs with X.float() (uint8 "
             "images: X.float() / 255), or the model with net.to(X.dtype).",
    "index": "an index in the data is larger than the layer it selects from (an nn.Embedding "
             "needs as many rows as there are tokens).",
}


def checked_forward(
    net: Callable, X: torch.Tensor, raw: nn.Module, rows: int | None = None
) -> torch.Tensor:
    """Run the first forward pass (on the first `rows` rows of X, if given), explaining
    PyTorch's shape, dtype and index errors in a ValueError chained to them; every other
    error (out of memory, a device mismatch, a compiler failure, a bug) passes unchanged."""
    try:
        return net(X if rows is None else X[:rows])
    except (RuntimeError, ValueError, IndexError) as err:
        kind = mismatch(err)
        if kind is None:
            raise
        raise ValueError(
            f"the first batch does not fit the model: input shape {tuple(X.shape)} "
            f"({X.dtype}), first layer {first_layer(raw)}.\n"
            f"Hint: {_FORWARD_HINTS[kind]}\n"
            f"PyTorch said: {err}"
        ) from err


def checked_loss(loss: Callable, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Compute the first batch's loss, explaining labels out of range and PyTorch's shape,
    dtype and index errors; other errors pass unchanged. Labels equal to the loss's
    `ignore_index` (-100 for CrossEntropyLoss) are not out of range."""
    if (
        isinstance(loss, nn.CrossEntropyLoss)
        and not y.is_floating_point()
        and y_hat.ndim == 2
        and y.ndim == 1
    ):
        labels = y[y != loss.ignore_index]
        classes = y_hat.shape[1]
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= classes):
            low, high = int(y.min()), int(y.max())
            raise ValueError(
                f"labels range over [{low}, {high}] but the model outputs {classes} scores "
                f"per example (shape {tuple(y_hat.shape)}). Hint: the last layer needs as many "
                "outputs as there are classes"
                + (f" (labels {loss.ignore_index} are ignored)." if low == loss.ignore_index
                   else ".")
            )
    y = match_targets(loss, y_hat, y)
    try:
        out = loss(y_hat, y)
    except (RuntimeError, ValueError, IndexError) as err:
        if mismatch(err) is None:
            raise
        raise ValueError(
            f"the loss cannot compare the model output {tuple(y_hat.shape)} ({y_hat.dtype}) "
            f"with the labels {tuple(y.shape)} ({y.dtype}). Hint: CrossEntropyLoss expects "
            "scores (B, C) and int64 labels (B,); MSELoss expects equal shapes.\n"
            f"PyTorch said: {err}"
        ) from err
    if out.ndim > 0 and out.shape[0] != y.shape[0]:
        raise ValueError(f"loss returned shape {tuple(out.shape)} for a batch of {y.shape[0]}")
    return out
