"""The first-batch checks of `fit` and `train_lm`: data that do not fit the model, explained.

Only PyTorch's shape, dtype and index errors (`mismatch`) are explained, in a ValueError
chained to PyTorch's own; every other error (out of memory, a device mismatch, a compiler
failure, a bug in the model) passes through as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from d2lutils.train.plumbing import match_targets

# What PyTorch says when the data do not fit the model or the loss. Anything else (out of
# memory, tensors on different devices, a compiler failure, a bug in the model) is not
# explained away: the caller lets it through unchanged.
_MISMATCH = {
    "shape": (
        "shapes cannot be multiplied",  # Linear, matmul
        "must have same reduction dim",  # the same under torch.compile
        r"Expected \d+D .*input to",  # conv/pool on data of the wrong rank
        r"to have \d+ channels, but got \d+ channels",
        "Kernel size can't be greater than actual input size",
        "Output size is too small",
        "is invalid for input of size",  # view/reshape
        r"should contain \d+ elements not \d+",  # batch norm
        "expected input with shape",  # layer norm
        "must be equal to input_size",  # RNN, GRU, LSTM
        r"Expected hidden(\[\d\])? size",
        "must match the size of tensor",  # broadcasting
        "size mismatch",
        "to match target batch_size",  # cross-entropy
        "must be the same as input size",  # BCE
        "target tensor expected",  # cross-entropy with (B, T) labels
    ),
    "dtype": (
        "must have the same dtype",
        r"Input type \([a-z0-9]+\) and (weight|bias) type \([a-z0-9]+\) should be the same",
        "expected scalar type",
        "expected target dtype",
        "to have one of the following scalar types",  # float indices into an embedding
        "Found dtype",
    ),
    "index": (
        "index out of range",  # embedding smaller than the vocabulary
        "is out of bounds",  # a label >= the number of classes
        "Class values must be smaller than num_classes",  # one_hot
    ),
}
_MISMATCH_RE = {kind: re.compile("|".join(patterns)) for kind, patterns in _MISMATCH.items()}


def mismatch(err: BaseException) -> str | None:
    """"shape", "dtype" or "index" when `err` is PyTorch saying the data do not fit; else None.

    The first-batch checks below explain such errors (a ValueError chained to PyTorch's) and
    re-raise every other error as it is.
    """
    if isinstance(err, torch.cuda.OutOfMemoryError) or not isinstance(
        err, (RuntimeError, ValueError, IndexError)
    ):
        return None
    text = str(err)
    for kind, pattern in _MISMATCH_RE.items():
        if pattern.search(text):
            return kind
    return None


def first_layer(net: nn.Module) -> str:
    """A short description of the first leaf module of `net` (for error messages)."""
    for m in net.modules():
        if not list(m.children()):
            return repr(m)
    return type(net).__name__


def _run(step: Callable[[], Any], explain: Callable[[str, BaseException], str]) -> Any:
    """`step()`, with PyTorch's "the data do not fit" errors turned into a ValueError whose
    message is ``explain(kind, err)``, chained to them; every other error as it is."""
    try:
        return step()
    except (RuntimeError, ValueError, IndexError) as err:
        kind = mismatch(err)
        if kind is None:
            raise
        raise ValueError(explain(kind, err)) from err


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
    """Run `fit`'s first forward pass (on the first `rows` rows of X, if given), explaining
    PyTorch's shape, dtype and index errors in a ValueError chained to them."""
    return _run(lambda: net(X if rows is None else X[:rows]), lambda kind, err: (
        f"the first batch does not fit the model: input shape {tuple(X.shape)} "
        f"({X.dtype}), first layer {first_layer(raw)}.\n"
        f"Hint: {_FORWARD_HINTS[kind]}\n"
        f"PyTorch said: {err}"
    ))


def checked_loss(loss: Callable, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Compute `fit`'s first loss, explaining labels out of range and PyTorch's shape, dtype
    and index errors. Labels equal to the loss's `ignore_index` (-100 for CrossEntropyLoss)
    are not out of range."""
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
    out = _run(lambda: loss(y_hat, y), lambda kind, err: (
        f"the loss cannot compare the model output {tuple(y_hat.shape)} ({y_hat.dtype}) "
        f"with the labels {tuple(y.shape)} ({y.dtype}). Hint: CrossEntropyLoss expects "
        "scores (B, C) and int64 labels (B,); MSELoss expects equal shapes.\n"
        f"PyTorch said: {err}"
    ))
    if out.ndim > 0 and out.shape[0] != y.shape[0]:
        raise ValueError(
            f"loss returned shape {tuple(out.shape)} for a batch of {y.shape[0]}. Hint: a loss "
            "returns one number (reduction='mean') or one value per example "
            "(reduction='none'), so that fit can average it over the examples."
        )
    return out


def checked_lm_forward(net: Any, X: torch.Tensor, state: Any, vocab: Any) -> tuple[Any, Any]:
    """Run `train_lm`'s first forward pass, explaining PyTorch's shape, dtype and index
    errors, a model that does not return (logits, state), and logits of the wrong width."""

    def explain(kind: str, err: BaseException) -> str:
        span = ""
        if X.numel() and not X.is_floating_point():
            span = f" in [{int(X.min())}, {int(X.max())}]"
        return (
            f"the first batch does not fit the language model: X has shape {tuple(X.shape)} "
            f"({X.dtype}) with token indices{span}, and the vocabulary has {len(vocab)} tokens.\n"
            "Hint: a language model takes X as (batch, steps) token indices and returns "
            "(logits (batch, steps, vocab), state); its input layer (one-hot or nn.Embedding) and "
            f"its output layer must both be built with len(vocab) = {len(vocab)}, and its state "
            "must come from net.begin_state(batch_size, device).\n"
            f"PyTorch said: {err}"
        )

    out = _run(lambda: net(X, state), explain)
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise ValueError(
            f"a language model must return (logits, state), got {type(out).__name__}. Hint: "
            "end forward with `return self.output(Y), state`."
        )
    if out[0].shape[-1] != len(vocab):
        raise ValueError(
            f"the model predicts {out[0].shape[-1]} tokens but the vocabulary has {len(vocab)}. "
            f"Hint: build the output layer with len(vocab) = {len(vocab)} outputs, from the "
            "vocab that encoded train_iter."
        )
    return out
