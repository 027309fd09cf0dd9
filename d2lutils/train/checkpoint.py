"""Saving and loading a model's weights: a plain state dict, written atomically, read safely.

`save_model` writes ``net.state_dict()`` (on the CPU, so a checkpoint made on a GPU loads
anywhere) under a temporary name and renames it into place, so an interrupted save never
leaves a half-written file. `load_model` reads it back with
``torch.load(..., weights_only=True)``, which refuses any pickled object that is not a
tensor or a plain container: a checkpoint can carry weights, never code. Every failure
(wrong architecture, corrupted file, refused content) is a ValueError that says what
happened and what to do, followed by PyTorch's own message.
"""

from __future__ import annotations

import os
import pickle
import uuid
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn


def _module(net: nn.Module) -> nn.Module:
    """The module whose parameters are saved: the original one behind `torch.compile`."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(net).__name__}")
    return getattr(net, "_orig_mod", net)


def save_model(net: nn.Module, path: str | os.PathLike) -> Path:
    """Save the weights of `net` (its ``state_dict``) to `path`; return the path.

    The file is written under a temporary name in the same folder and renamed into place,
    so `path` is either the old file or the complete new one, never half of it.
    """
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in _module(net).state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        torch.save(state, part)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return path


def load_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict saved by `save_model` (or ``torch.save(net.state_dict(), path)``).

    Uses ``torch.load(path, map_location="cpu", weights_only=True)``: pickled code is refused.
    Raises FileNotFoundError if there is no such file and ValueError if it cannot be used.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; save one with save_model(net, path)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"refused to load {path}: it holds more than weights (pickled objects or code), "
            "which torch.load(..., weights_only=True) does not run. Save checkpoints with "
            "save_model(net, path), i.e. the state_dict only. Load such a file with "
            "weights_only=False only if you made it yourself or fully trust its source.\n"
            f"PyTorch said: {err}"
        ) from err
    except (RuntimeError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"{path} is not a readable PyTorch checkpoint ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else 'empty file'}); it is probably "
            "truncated or corrupted (an interrupted copy or download). Save it again with "
            "save_model(net, path)."
        ) from err
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(
            f"{path} holds a {type(state).__name__}, not a state dict (names -> tensors). "
            "Hint: save with save_model(net, path) or torch.save(net.state_dict(), path)."
        )
    return dict(state)


def load_model(net: nn.Module, path: str | os.PathLike, *, strict: bool = True) -> nn.Module:
    """Load the weights saved at `path` into `net` (built with the same architecture).

    Returns `net`. The tensors are copied into `net`'s own parameters, so `net` stays on
    its device. A checkpoint that does not fit (missing or unexpected layers, other sizes;
    with ``strict=False`` only other sizes) raises ValueError listing the differences in
    PyTorch's words; `net` is left as it was. The check compares names and shapes with
    ``net.state_dict()``, so nothing is copied before it passes.
    """
    module = _module(net)
    state = load_state(path)
    differences = _differences(module, state, strict)
    if differences:
        raise ValueError(
            f"the weights in {path} do not fit this {type(module).__name__}:\n  "
            + "\n  ".join(differences)
            + "\nHint: build the model exactly as it was when it was saved (same layers in the "
            "same order, same sizes) and then load; to reuse only some layers, pass "
            "strict=False."
        )
    try:
        module.load_state_dict(state, strict=strict)
    except RuntimeError as err:  # a module's own loading hook refused (names, shapes passed)
        raise ValueError(
            f"the weights in {path} do not fit this {type(module).__name__}.\n"
            f"PyTorch said: {err}"
        ) from err
    return net


def _differences(module: nn.Module, state: Mapping[str, torch.Tensor], strict: bool) -> list[str]:
    """What keeps `state` from loading into `module`, worded as ``load_state_dict`` words it."""
    own = module.state_dict()  # references to the module's tensors, not copies
    lines = []
    if strict:
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if missing:
            lines.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing)
                         + ".")
        if unexpected:
            lines.append("Unexpected key(s) in state_dict: "
                         + ", ".join(f'"{k}"' for k in unexpected) + ".")
    lines += [
        f"size mismatch for {k}: copying a param with shape {v.shape} from checkpoint, "
        f"the shape in current model is {own[k].shape}."
        for k, v in state.items() if k in own and own[k].shape != v.shape
    ]
    return lines
