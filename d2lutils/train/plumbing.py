"""What `fit`, `train_lm` and the evaluation helpers share.

Devices (where to train, where to evaluate, where a model lives), loaders a run cannot use
(one-shot iterators read every epoch, loaders that yield nothing), the accumulator dtype, the
progress bar and live plot of a run, eval mode, and matching targets to outputs.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from d2lutils.device import device as default_device
from d2lutils.device import tune_cpu_allocator
from d2lutils.plot import LivePlot, in_notebook

# losses that compare output and target element by element, broadcasting unequal shapes
_ELEMENTWISE = (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss, nn.BCELoss,
                nn.BCEWithLogitsLoss)


def model_device(net: Any) -> torch.device:
    """Where `net` lives: the device of its first parameter or buffer (a module, or a scratch
    model with `.params`), else `d2lutils.device()` (a plain function)."""
    if isinstance(net, nn.Module):
        tensors = itertools.chain(net.parameters(), net.buffers())
    else:
        tensors = getattr(net, "params", ())
    for t in tensors:
        if isinstance(t, torch.Tensor):
            return t.device
    return default_device()


def trainable_params(net_or_params: Any) -> list[torch.Tensor]:
    """Trainable tensors of a module, a d2l-style scratch model (`.params`), a tensor or an
    iterable of tensors."""
    if isinstance(net_or_params, nn.Module):
        params = net_or_params.parameters()
    elif hasattr(net_or_params, "params"):
        params = net_or_params.params
    elif isinstance(net_or_params, torch.Tensor):
        params = [net_or_params]
    else:
        params = net_or_params
    return [p for p in params if p.requires_grad]


def training_device(net: Any, device: torch.device | str | None) -> torch.device:
    """Where `fit` and `train_lm` train, with a module moved there.

    `device` if given; else `d2lutils.device()` for a module, and where the parameters
    already are for a scratch model (which cannot be moved). Training on the CPU turns on
    `tune_cpu_allocator` (once per process; ``D2L_TUNE_MALLOC=0`` leaves glibc alone).
    """
    if device is not None:
        dev = torch.device(device)
    elif isinstance(net, nn.Module):
        dev = default_device()
    else:
        dev = model_device(net)
    if isinstance(net, nn.Module):
        net.to(dev)
    if dev.type == "cpu":
        tune_cpu_allocator()
    return dev


def eval_device(net: Any, device: torch.device | str | None) -> torch.device:
    """Where the evaluation helpers run: `device` if given (a module is moved there first),
    else where the model's parameters are (nothing is moved)."""
    if device is None:
        return model_device(net)
    dev = torch.device(device)
    if isinstance(net, nn.Module):
        net.to(dev)
    return dev


def read_every_epoch(data: Iterable | None, name: str, epochs: int) -> None:
    """Refuse a one-shot iterator (a generator, ``iter(loader)``) that a run reads each epoch:
    from the second epoch on it would yield nothing, and the run would report a loss of 0 or
    an accuracy of 0 as if it had measured them."""
    if data is not None and epochs > 1 and isinstance(data, Iterator):
        raise ValueError(
            f"{name} is a one-shot iterator ({type(data).__name__}): it yields its batches "
            f"once, and epochs={epochs} reads it in every epoch. Hint: pass a loader that can "
            f"be read again (a DataLoader, TensorLoader, SeqLoader), or list({name})."
        )


def no_batches(who: str, name: str = "data_iter") -> ValueError:
    """The error for a loader that yielded nothing (rather than a score of 0 or 1)."""
    return ValueError(
        f"{who}: {name} is empty (it yielded no batches), so there is nothing to measure. "
        "Hint: check that the dataset holds examples, and that batch_size is not larger than "
        "the dataset with drop_last=True."
    )


def accumulator_dtype(dev: torch.device) -> torch.dtype:
    """float64 for sums of losses over an epoch, float32 on MPS (which has no float64)."""
    return torch.float32 if dev.type == "mps" else torch.float64


class TrainingDisplay:
    """The progress bar (tqdm) and live plot (`LivePlot`) of one training run.

    Each is shown when asked (``plot``/``progress`` True) or, when None, only inside a
    notebook kernel. `curves` names the History metrics drawn and shown on the bar; a curve
    that a run does not record (test_acc without a test set) is left out of the plot.
    Use as a context manager: leaving it draws the last points and closes the bar.
    """

    def __init__(
        self,
        desc: str,
        epochs: int,
        train_iter: Iterable,
        curves: Sequence[str],
        *,
        plot: bool | None,
        progress: bool | None,
        ylabel: str | None = None,
    ) -> None:
        show = in_notebook()
        self.epochs, self.curves, self.ylabel = epochs, list(curves), ylabel
        self.plot = plot if plot is not None else show
        self.live: LivePlot | None = None
        self.bar = None
        if progress if progress is not None else show:
            self.bar = _progress_bar(epochs, train_iter, desc)

    def batch_done(self) -> None:
        """Advance the bar by one batch."""
        if self.bar is not None:
            self.bar.update(1)

    def epoch_done(self, epoch: int, metrics: dict[str, float]) -> None:
        """Show epoch `epoch` (1-based): the curves' values on the bar, a point per curve."""
        shown = [name for name in self.curves if name in metrics]
        if self.bar is not None:
            self.bar.set_postfix({name: f"{metrics[name]:.4g}" for name in shown})
        if self.plot:
            if self.live is None:
                self.live = LivePlot(xlabel="epoch", ylabel=self.ylabel, xlim=[1, self.epochs],
                                     legend=[name.replace("_", " ") for name in shown],
                                     display=True)  # self.plot: asked for, or in a kernel
            self.live.add(epoch, [metrics.get(name) for name in shown])

    def __enter__(self) -> TrainingDisplay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.live is not None:
            self.live.close()


def _progress_bar(epochs: int, train_iter: Iterable, desc: str) -> Any:
    # tqdm.auto imports IPython (to pick the notebook widget): only when a bar is shown
    from tqdm.auto import tqdm

    try:
        total = epochs * len(train_iter)  # type: ignore[arg-type]
    except TypeError:
        total = None
    return tqdm(total=total, desc=desc, unit="batch", leave=True)


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
