"""Choosing the compute device and seeding every random number generator."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

_HINT = "unset D2L_DEVICE or set it to cpu"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _forced(name: str) -> torch.device:
    """Validate the device forced through `D2L_DEVICE`."""
    try:
        dev = torch.device(name)
    except RuntimeError as err:
        raise RuntimeError(
            f"D2L_DEVICE={name} is not a device name; use cpu, cuda, cuda:N or mps"
        ) from err
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"D2L_DEVICE={name} but CUDA is not available on this machine; {_HINT}"
            )
        index = dev.index or 0
        count = torch.cuda.device_count()
        if index >= count:
            raise RuntimeError(
                f"D2L_DEVICE={name} but this machine has only {count} CUDA device(s) "
                f"(cuda:0..cuda:{count - 1}); {_HINT}"
            )
        return dev
    if dev.type == "mps":
        if not _mps_available():
            raise RuntimeError(
                f"D2L_DEVICE={name} but Apple MPS is not available on this machine; {_HINT}"
            )
        return dev
    raise RuntimeError(f"D2L_DEVICE={name} is not supported; use cpu, cuda, cuda:N or mps")


def device() -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then CPU.

    The environment variable `D2L_DEVICE` (``cpu``, ``cuda``, ``cuda:N``, ``mps``) forces a
    device; a forced device that is not available raises RuntimeError.
    """
    name = os.environ.get("D2L_DEVICE", "").strip().lower()
    if name:
        return _forced(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def try_gpu(i: int = 0) -> torch.device:
    """Return ``cuda:i`` if that GPU exists, else the CPU (d2l semantics)."""
    if torch.cuda.is_available() and torch.cuda.device_count() >= i + 1:
        return torch.device(f"cuda:{i}")
    return torch.device("cpu")


def try_all_gpus() -> list[torch.device]:
    """Return every CUDA device, or ``[cpu]`` when there is none (d2l semantics)."""
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [torch.device(f"cuda:{i}") for i in range(n)] or [torch.device("cpu")]


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (every device) and make cuDNN deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds the CPU and every CUDA/MPS generator
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
