"""`fit`: the training loop for classifiers (and regression) used throughout the course."""

from __future__ import annotations

import contextlib
import functools
import itertools
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from d2lutils.train.checks import checked_forward, checked_loss
from d2lutils.train.metrics import History, accuracy, counted_labels, evaluate_accuracy, ratio
from d2lutils.train.plumbing import (
    TrainingDisplay,
    accumulator_dtype,
    evaluating,
    match_targets,
    no_batches,
    read_every_epoch,
    training_device,
)

_INITS = {
    "xavier": nn.init.xavier_uniform_,
    "kaiming": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
}


def init_weights(net: nn.Module, init: str | Callable[[nn.Module], None] | None) -> None:
    """Initialize `net`: "xavier" or "kaiming" re-draw Linear/Conv2d weights; a callable is
    passed to ``net.apply``; None keeps PyTorch's defaults."""
    if init is None:
        return
    if callable(init):
        net.apply(init)
        return
    if init not in _INITS:
        raise ValueError(f"init must be 'xavier', 'kaiming', a callable or None, not {init!r}")
    fn = _INITS[init]

    def apply(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            fn(m.weight)

    net.apply(apply)


BF16_CAPABILITY = (8, 0)  # Ampere: bf16 tensor cores; below it bf16 is only emulated


def mixed_precision(
    amp: bool | str, dev: torch.device
) -> tuple[torch.dtype | None, torch.amp.GradScaler | None]:
    """The autocast dtype (None: float32) and GradScaler (fp16 only) `fit` uses for `amp`.

    ``amp=True`` picks bf16 on GPUs of compute capability 8.0 or more (Ampere and later),
    else fp16 with a GradScaler: ``torch.cuda.is_bf16_supported()`` also says True on a T4
    (7.5, Colab's free GPU), where bf16 is emulated and slow. "bf16" or "fp16" force one.
    AMP is CUDA-only here: on another device it warns and trains in float32.
    """
    if amp not in (False, True, "bf16", "fp16"):
        raise ValueError(f"amp must be False, True, 'bf16' or 'fp16', not {amp!r}")
    if not amp:
        return None, None
    if dev.type != "cuda":
        warnings.warn(f"amp=True is only used on CUDA; training in float32 on {dev}", stacklevel=3)
        return None, None
    if amp is True:
        amp = "bf16" if torch.cuda.get_device_capability(dev) >= BF16_CAPABILITY else "fp16"
    if amp == "bf16":
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")


def plateau_metric(scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau,
                   metrics: dict[str, float]) -> str:
    """The epoch metric `fit` steps ReduceLROnPlateau on: train_loss for mode "min", the
    test (else train) accuracy for mode "max"."""
    if scheduler.mode == "min":
        return "train_loss"
    for name in ("test_acc", "train_acc"):
        if name in metrics:
            return name
    raise ValueError("ReduceLROnPlateau(mode='max') watches an accuracy, and this training "
                     "has none (float targets); use mode='min' to watch train_loss")


def use_channels_last(dev: torch.device, requested: bool) -> bool:
    """Whether `fit` converts to the channels-last layout on `dev` (not on MPS: warns)."""
    if requested and dev.type == "mps":
        warnings.warn("channels_last is not used on MPS; training in the default layout",
                      stacklevel=3)
        return False
    return bool(requested)


def fit(
    net: nn.Module,
    train_iter: Iterable,
    test_iter: Iterable | None,
    *,
    epochs: int,
    lr: float | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    loss: Callable | None = None,
    device: torch.device | str | None = None,
    init: str | Callable | None = None,
    plot: bool | None = None,
    progress: bool | None = None,
    amp: bool | str = False,
    channels_last: bool = False,
    compile: bool = False,
    scheduler: Any = None,
    scheduler_step: str = "epoch",
) -> History:
    """Train a classifier for `epochs` epochs and return its per-epoch `History`.

    Records ``train_loss`` (mean), ``train_acc`` (correct labels / labels, counted as
    `accuracy` counts them: (B, T) labels count B*T, and negative labels such as
    ``ignore_index=-100`` padding are left out), ``test_acc`` (if `test_iter`),
    ``examples_per_sec`` (training examples / training seconds) and ``epoch_time``
    (seconds, training + evaluation). Loss and correct counts stay on the device and are read
    once per epoch. `optimizer` defaults to ``SGD(lr)``, `loss` to ``CrossEntropyLoss``.
    `init` is "xavier", "kaiming" (Linear/Conv2d weights), a callable for ``net.apply``, or
    None. `amp` (CUDA only): True picks bf16 from compute capability 8.0, else fp16 with a
    GradScaler (see `mixed_precision`); "bf16" or "fp16" force one.
    `channels_last` converts the model and 4-D inputs to the channels-last memory format
    (CPU and CUDA; ignored with a warning on MPS). On a 2-core CPU it makes the classic LeNet's
    steps about 10% faster and a LeNet with batch norm 1.5x slower: measure before using it.
    `compile` uses torch.compile.

    `scheduler` (a ``torch.optim.lr_scheduler``) is stepped after every epoch with
    ``scheduler_step="epoch"`` (the default; count StepLR's or CosineAnnealingLR's steps in
    epochs), or after every optimizer step with ``"batch"`` (count OneCycleLR's, CyclicLR's
    or a warm-up's steps as ``epochs * len(train_iter)``). ReduceLROnPlateau is stepped per
    epoch on the metric its mode watches: ``mode="min"`` on that epoch's ``train_loss``,
    ``mode="max"`` on ``test_acc`` (``train_acc`` without `test_iter`).

    `train_iter` and `test_iter` are read once per epoch, so with several epochs they must be
    loaders that can be read again (a one-shot iterator such as a generator is refused).
    `plot` (a LivePlot) and `progress` (a tqdm bar) default to on only inside a notebook
    kernel.
    """
    if optimizer is None and lr is None:
        raise ValueError("fit needs lr (for the default SGD optimizer) or an optimizer")
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"scheduler_step must be 'epoch' or 'batch', not {scheduler_step!r}")
    if plateau and scheduler_step == "batch":
        raise ValueError("ReduceLROnPlateau is stepped per epoch, on a metric of the epoch; "
                         "use scheduler_step='epoch'")
    per_batch = scheduler is not None and scheduler_step == "batch"
    read_every_epoch(train_iter, "train_iter", epochs)
    read_every_epoch(test_iter, "test_iter", epochs)
    dev = training_device(net, device)
    loss_fn = loss if loss is not None else nn.CrossEntropyLoss()
    if isinstance(loss_fn, nn.Module):
        loss_fn.to(dev)
    channels_last = use_channels_last(dev, channels_last)
    if channels_last:
        net.to(memory_format=torch.channels_last)
    batches = iter(train_iter)
    first = next(batches, None)
    if first is None:
        raise no_batches("fit", "train_iter")
    if any(isinstance(p, nn.parameter.UninitializedParameter) for p in net.parameters()):
        with evaluating(net):  # materialize lazy layers before init and the optimizer
            checked_forward(net, first[0].to(dev), net, rows=2)
    init_weights(net, init)
    if optimizer is None:
        optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    model = torch.compile(net) if compile else net
    amp_dtype, scaler = mixed_precision(amp, dev)
    autocast = (
        contextlib.nullcontext if amp_dtype is None
        else functools.partial(torch.autocast, dev.type, dtype=amp_dtype)
    )
    history = History()
    acc_dtype = accumulator_dtype(dev)
    checked, classify = False, True
    display = TrainingDisplay("fit", epochs, train_iter, ("train_loss", "train_acc", "test_acc"),
                              plot=plot, progress=progress)
    with display:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            net.train()
            loss_sum = torch.zeros((), dtype=acc_dtype, device=dev)
            correct = torch.zeros((), dtype=torch.int64, device=dev)
            labels = torch.zeros((), dtype=torch.int64, device=dev)  # as accuracy counts them
            n = 0  # examples (rows)
            source = itertools.chain([first], batches) if epoch == 0 else train_iter
            for X, y in source:
                X, y = X.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
                if channels_last and X.ndim == 4:
                    X = X.contiguous(memory_format=torch.channels_last)
                with autocast():
                    y_hat = model(X) if checked else checked_forward(model, X, net)
                    if checked:
                        batch_loss = loss_fn(y_hat, match_targets(loss_fn, y_hat, y))
                    else:
                        batch_loss = checked_loss(loss_fn, y_hat, y)
                if not checked:
                    checked, classify = True, not y.is_floating_point()
                mean_loss = batch_loss.mean() if batch_loss.ndim else batch_loss
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(mean_loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    mean_loss.backward()
                    optimizer.step()
                if per_batch:
                    scheduler.step()
                with torch.no_grad():
                    loss_sum += mean_loss.detach().to(acc_dtype) * y.shape[0]
                    if classify:
                        correct += accuracy(y_hat.detach(), y)
                        labels += counted_labels(y)
                n += y.shape[0]
                display.batch_done()
            metrics = {"train_loss": loss_sum.item() / max(n, 1)}
            if classify:
                metrics["train_acc"] = ratio(correct, labels)
            train_time = time.perf_counter() - t0
            if classify and test_iter is not None:
                metrics["test_acc"] = evaluate_accuracy(model, test_iter, dev)
            metrics["examples_per_sec"] = n / train_time
            metrics["epoch_time"] = time.perf_counter() - t0
            if plateau:
                scheduler.step(metrics[plateau_metric(scheduler, metrics)])
            elif scheduler is not None and not per_batch:
                scheduler.step()
            history.append(**metrics)
            display.epoch_done(epoch + 1, metrics)
    return history
