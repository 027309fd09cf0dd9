"""Small training utilities: timing, accuracy, evaluation, history, clipping, K-fold."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from d2lutils.train.plumbing import (
    accumulator_dtype,
    eval_device,
    evaluating,
    match_targets,
    no_batches,
    trainable_params,
)


class Timer:
    """Record several running times (d2l semantics: starts on creation)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.start()

    def start(self) -> None:
        """Start (or restart) the timer."""
        self.tik = time.perf_counter()

    def stop(self) -> float:
        """Stop the timer, record the elapsed time and return it."""
        self.times.append(time.perf_counter() - self.tik)
        return self.times[-1]

    def avg(self) -> float:
        """Average of the recorded times."""
        return sum(self.times) / len(self.times)

    def sum(self) -> float:
        """Sum of the recorded times."""
        return sum(self.times)

    def cumsum(self) -> list[float]:
        """Running totals of the recorded times."""
        return np.array(self.times).cumsum().tolist()


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Number of correct predictions, as a 0-dim tensor on `y_hat`'s device (no host sync).

    `y_hat` holds scores with classes on the last axis (e.g. (B, C) or (B, T, C)), or
    predicted labels with the same number of elements as `y`. Negative labels (-100, the
    ``ignore_index`` with which ``CrossEntropyLoss`` skips padding) are not predictions and
    never count as correct; `counted_labels` gives the matching total.
    ``float(accuracy(y_hat, y))`` equals d2l's classic ``d2l.accuracy(y_hat, y)``.
    """
    if y_hat.ndim > 1 and y_hat.shape[-1] > 1 and y_hat.numel() != y.numel():
        y_hat = y_hat.argmax(dim=-1)
    cmp = (y_hat.reshape(y.shape).to(y.dtype) == y) & (y >= 0)
    return cmp.sum()


def counted_labels(y: torch.Tensor) -> torch.Tensor:
    """How many labels of `y` `accuracy` judges (all but negative ones), as a 0-dim tensor on
    `y`'s device: the denominator of `evaluate_accuracy` and of `fit`'s ``train_acc``."""
    return (y >= 0).sum()


def ratio(correct: torch.Tensor, total: torch.Tensor) -> float:
    """``correct / total`` of two 0-dim device counters, read with one host sync (0 if none)."""
    c, t = torch.stack((correct, total)).tolist()
    return c / max(t, 1)


def evaluate_accuracy(
    net: Any, data_iter: Iterable, device: torch.device | str | None = None
) -> float:
    """Accuracy of `net` over `data_iter` in eval mode without gradients (one host sync).

    Labels that `accuracy` skips (negative ones, such as padding marked -100) are left out of
    the total too. ``device=None`` evaluates where the model's parameters are; a given
    `device` moves a module there first. Every submodule's train/eval mode is restored
    afterwards, also when `net` raises.
    """
    device = eval_device(net, device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    total = torch.zeros((), dtype=torch.int64, device=device)
    batches = 0
    with evaluating(net):
        for X, y in data_iter:
            X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
            correct += accuracy(net(X), y)
            total += counted_labels(y)
            batches += 1
    if not batches:
        raise no_batches("evaluate_accuracy")
    return ratio(correct, total)


def evaluate_loss(
    net: Any, data_iter: Iterable, loss: Any, device: torch.device | str | None = None
) -> float:
    """Mean loss per example of `net` over `data_iter` (eval mode, no gradients).

    Works with losses that reduce by mean (the default) or not at all (``reduction="none"``).
    Targets are matched to the outputs as `fit` matches them (`match_targets`): float targets
    with as many elements are reshaped, so an MSE between (B, 1) outputs and (B,) targets
    does not silently broadcast. `device` as for `evaluate_accuracy`.
    """
    device = eval_device(net, device)
    total = torch.zeros((), dtype=accumulator_dtype(device), device=device)
    n = 0
    with evaluating(net):
        for X, y in data_iter:
            X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
            out = net(X)
            batch_loss = loss(out, match_targets(loss, out, y))
            if batch_loss.ndim == 0:
                total += batch_loss.to(total.dtype) * y.shape[0]
                n += y.shape[0]
            else:
                total += batch_loss.to(total.dtype).sum()
                n += batch_loss.numel()
    if n == 0:
        raise no_batches("evaluate_loss")
    return total.item() / n


class History(dict):
    """Per-epoch metrics: name -> list of floats; ``h["test_acc"]`` or ``h.test_acc``."""

    def __getattr__(self, name: str) -> list[float]:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def append(self, **metrics: Any) -> None:
        """Append one epoch's values (converted to float)."""
        for name, value in metrics.items():
            self.setdefault(name, []).append(float(value))

    @property
    def final(self) -> dict[str, float]:
        """The last epoch's value of every metric."""
        return {name: values[-1] for name, values in self.items() if values}

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.final.items())
        epochs = max((len(v) for v in self.values()), default=0)
        return f"History({epochs} epochs; final: {shown})"


def grad_clipping(net_or_params: Any, theta: float) -> float:
    """Clip the global L2 norm of the gradients to `theta`; return the norm before clipping.

    Accepts a module, a scratch model with `.params`, or an iterable of tensors, and calls
    ``torch.nn.utils.clip_grad_norm_`` on their trainable tensors (notebook 08 writes the
    same rule out: scale by ``min(1, theta / norm)``).
    """
    return float(nn.utils.clip_grad_norm_(trainable_params(net_or_params), theta))


def k_fold_indices(n: int, k: int, seed: int | None = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Split ``range(n)`` into `k` folds; return ``[(train_idx, val_idx), ...]`` LongTensors.

    Every index is in exactly one validation fold (sizes differ by at most one). The indices
    are shuffled with `seed`; ``seed=None`` keeps contiguous folds in order, as d2l's
    ``get_k_fold_data`` does when `k` divides `n`.
    """
    if not 2 <= k <= n:
        raise ValueError(f"k_fold_indices needs 2 <= k <= n, got k={k}, n={n}")
    if seed is None:
        order = torch.arange(n)
    else:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    folds = torch.tensor_split(order, k)
    return [
        (torch.cat([f for j, f in enumerate(folds) if j != i]), folds[i].clone())
        for i in range(k)
    ]
