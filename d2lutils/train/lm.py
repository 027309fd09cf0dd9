"""Training, evaluating and sampling language models (RNN, GRU, LSTM, from scratch or not).

A model is any callable ``net(X, state) -> (logits, state)`` where X holds token indices
(batch, steps), logits are (batch, steps, vocab), and ``net.begin_state(batch_size, device)``
returns the initial state: a tensor, a tuple of tensors (LSTM) or None.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from d2lutils.train.checks import checked_lm_forward
from d2lutils.train.metrics import History
from d2lutils.train.plumbing import (
    TrainingDisplay,
    accumulator_dtype,
    eval_device,
    evaluating,
    no_batches,
    read_every_epoch,
    trainable_params,
    training_device,
)


def detach_state(state: Any) -> Any:
    """Cut the autograd history of a state (a tensor, a tuple/list of tensors, or None)."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state)


def _state_batch(state: Any) -> int | None:
    """Batch size of a state, read from its first tensor (batch is the second-to-last dim)."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.shape[-2] if state.ndim >= 2 else state.shape[0]
    return _state_batch(state[0]) if len(state) else None


def _lm_loss(logits: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Mean token cross-entropy; checks the (batch, steps, vocab) layout."""
    if tuple(logits.shape[:-1]) != tuple(Y.shape):
        raise ValueError(
            f"language-model logits must be (batch, steps, vocab) = {tuple(Y.shape)} + (vocab,), "
            f"got {tuple(logits.shape)}. Hint: with nn.RNN(batch_first=False) transpose the "
            "output back to batch-first before the output layer."
        )
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1))


def perplexity(net: Any, data_iter: Iterable, device: torch.device | str | None = None) -> float:
    """exp(mean token cross-entropy) of `net` on `data_iter`, without gradients.

    Each batch starts from a fresh state (as d2l 1.0.3 validates), which is correct for
    both random and sequential partitions. Modules are put in eval mode and restored
    (every submodule, also when `net` raises). ``device=None`` evaluates where the model's
    parameters are; a given `device` moves a module there first.
    """
    dev = eval_device(net, device)
    dtype = accumulator_dtype(dev)
    total = torch.zeros((), dtype=dtype, device=dev)
    tokens = 0
    with evaluating(net):
        for X, Y in data_iter:
            X, Y = X.to(dev), Y.to(dev)
            logits, _ = net(X, net.begin_state(X.shape[0], dev))
            total += _lm_loss(logits, Y).to(dtype) * Y.numel()
            tokens += Y.numel()
    if tokens == 0:
        raise no_batches("perplexity")
    return math.exp(total.item() / tokens)


def train_lm(
    net: Any,
    train_iter: Iterable,
    vocab: Any,
    *,
    lr: float | None = None,
    epochs: int,
    device: torch.device | str | None = None,
    val_iter: Iterable | None = None,
    clip: float | None = 1.0,
    optimizer: torch.optim.Optimizer | None = None,
    random_iter: bool = False,
    plot: bool | None = None,
    progress: bool | None = None,
) -> History:
    """Train a language model with truncated backpropagation through time.

    Sequential partitioning (``random_iter=False``) carries the state from one batch to the
    next, detached; random partitioning starts every batch from ``net.begin_state``.
    Gradients are clipped to global norm `clip` (None: no clipping). `optimizer` defaults to
    ``SGD(lr)``. Returns a `History` with ``train_ppl``, ``val_ppl`` (if `val_iter`),
    ``tokens_per_sec`` and ``epoch_time``. `vocab` is used for its size check only.
    """
    if optimizer is None and lr is None:
        raise ValueError("train_lm needs lr (for the default SGD optimizer) or an optimizer")
    read_every_epoch(train_iter, "train_iter", epochs)
    read_every_epoch(val_iter, "val_iter", epochs)
    dev = training_device(net, device)
    params = trainable_params(net)
    if optimizer is None:
        optimizer = torch.optim.SGD(params, lr=lr)
    dtype = accumulator_dtype(dev)
    history = History()
    checked = False
    display = TrainingDisplay("train_lm", epochs, train_iter, ("train_ppl", "val_ppl"),
                              plot=plot, progress=progress, ylabel="perplexity")
    with display:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            if isinstance(net, nn.Module):
                net.train()
            total = torch.zeros((), dtype=dtype, device=dev)
            tokens, state = 0, None
            for X, Y in train_iter:
                X, Y = X.to(dev), Y.to(dev)
                if random_iter or state is None or _state_batch(state) != X.shape[0]:
                    state = net.begin_state(X.shape[0], dev)
                else:
                    state = detach_state(state)
                if checked:
                    logits, state = net(X, state)
                else:
                    logits, state = checked_lm_forward(net, X, state, vocab)
                    checked = True
                loss = _lm_loss(logits, Y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if clip is not None:
                    nn.utils.clip_grad_norm_(params, clip)
                optimizer.step()
                total += loss.detach().to(dtype) * Y.numel()
                tokens += Y.numel()
                display.batch_done()
            if tokens == 0:
                raise no_batches("train_lm", "train_iter")
            train_ppl = math.exp(total.item() / tokens)
            train_time = time.perf_counter() - t0
            metrics = {"train_ppl": train_ppl}
            if val_iter is not None:
                metrics["val_ppl"] = perplexity(net, val_iter, dev)
            metrics["tokens_per_sec"] = tokens / train_time
            metrics["epoch_time"] = time.perf_counter() - t0
            history.append(**metrics)
            display.epoch_done(epoch + 1, metrics)
    return history


def predict_lm(
    prefix: str | list[str],
    num_preds: int,
    net: Any,
    vocab: Any,
    device: torch.device | str | None = None,
) -> str:
    """Continue `prefix` by `num_preds` tokens, greedily (argmax) after a warm-up on it.

    A string prefix is read as characters and the result is joined without separator; a list
    of word tokens gives a space-joined result. ``device=None`` runs where the model's
    parameters are; a given `device` moves a module there first.
    """
    tokens = list(prefix)
    if not tokens:
        raise ValueError("predict_lm needs a non-empty prefix")
    dev = eval_device(net, device)
    outputs = [int(vocab[t]) for t in tokens]
    with evaluating(net):
        state = net.begin_state(1, dev)
        if len(outputs) > 1:  # warm-up: feed the prefix (all but its last token) in one call
            _, state = net(torch.tensor([outputs[:-1]], device=dev), state)
        for _ in range(num_preds):
            logits, state = net(torch.tensor([[outputs[-1]]], device=dev), state)
            outputs.append(int(logits.reshape(-1, logits.shape[-1])[-1].argmax()))
    words = vocab.to_tokens(outputs)
    return "".join(words) if isinstance(prefix, str) else " ".join(words)
