"""Choosing the compute device and seeding every random number generator."""

from __future__ import annotations

import ctypes
import functools
import os
import platform
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


def set_seed(seed: int = 0, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (every device): the same seed draws the same numbers.

    On the CPU that makes a run repeatable. On a GPU some kernels (cuDNN's autotuned
    convolutions, atomic adds) can still differ in the last bits from run to run;
    ``deterministic=True`` also makes cuDNN pick deterministic algorithms and turns its
    autotuner (``torch.backends.cudnn.benchmark``) off, which can slow convolutions. Without
    it the cuDNN settings are left as they are.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds the CPU and every CUDA/MPS generator (manual_seed_all)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


_MMAP_THRESHOLD = 256 << 20  # blocks up to this size come from the heap and are reused
_TRIM_THRESHOLD = 1 << 30  # free memory kept at the top of the heap before returning it


@functools.cache
def tune_cpu_allocator() -> bool:
    """Let glibc reuse freed tensor memory instead of returning it to the OS (Linux only).

    glibc serves large blocks with fresh pages from the kernel and gives them back when they
    are freed, so a CPU training loop page-faults every activation tensor in again on every
    step: measured here, 6,600 page faults and about a quarter of the CPU time per LeNet step
    (batch 256). Raising glibc's mmap threshold to 256 MiB and its trim threshold to 1 GiB
    (``mallopt``, as the environment variables ``MALLOC_MMAP_THRESHOLD_`` and
    ``MALLOC_TRIM_THRESHOLD_`` would) keeps those blocks in the process: 0-10 faults per
    step. The price is that the process keeps up to 1 GiB of freed memory.

    `fit` and `train_lm` call this when they start training on the CPU (only the first call
    in a process does anything); call it yourself to tune a process that trains otherwise.
    ``D2L_TUNE_MALLOC=0`` in the environment leaves glibc's defaults. It changes nothing on
    macOS, Windows or a C library other than glibc, and returns whether the settings were
    applied.
    """
    if os.environ.get("D2L_TUNE_MALLOC", "1").strip().lower() in ("0", "false", "no"):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt  # the running process's C library, no search for it
    m_trim, m_mmap = -1, -3  # M_TRIM_THRESHOLD, M_MMAP_THRESHOLD in <malloc.h>
    return bool(mallopt(m_mmap, _MMAP_THRESHOLD)) and bool(mallopt(m_trim, _TRIM_THRESHOLD))
