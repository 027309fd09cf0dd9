"""Run-time configuration read from the environment: quick mode and result reporting.

`D2L_QUICK` is read here and nowhere else. `D2L_REPORT` names a JSON-lines file that
`report` appends to (the course runner sets it).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, TypeVar

from d2lutils.device import device

T = TypeVar("T")
S = TypeVar("S")

_TRUE = {"1", "true", "yes"}


def is_quick() -> bool:
    """Return True when quick mode is on (`D2L_QUICK` is "1", "true" or "yes")."""
    return os.environ.get("D2L_QUICK", "").strip().lower() in _TRUE


def quick(full: T, small: S) -> T | S:
    """Return `small` in quick mode, else `full`, e.g. ``epochs = quick(10, 1)``."""
    return small if is_quick() else full


def _to_float(name: str, value: Any) -> float:
    """Convert a metric (Python number, 0-dim tensor or array, numpy scalar) to float."""
    if hasattr(value, "detach"):  # torch tensor, possibly on an accelerator
        value = value.detach().cpu()
    try:
        if getattr(value, "ndim", 0) > 0:  # one element of any shape; NumPy 2 refuses float()
            value = value.reshape(())
        return float(value)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            f"report(): metric {name!r} must be a number or a one-element tensor/array, "
            f"got {type(value).__name__}"
        ) from err


def _fmt(value: float) -> str:
    """Four decimals; tiny non-zero values keep four significant digits instead."""
    if value != 0 and math.isfinite(value) and abs(value) < 1e-3:
        return f"{value:.4g}"
    return f"{value:.4f}"


def report(**metrics: Any) -> dict[str, float]:
    """Print the key results of a notebook and, if `D2L_REPORT` is set, record them.

    Each metric is printed as ``name: value``. When the environment variable `D2L_REPORT`
    holds a path, one JSON line ``{"metrics": {...}, "device": "...", "quick": bool}``
    is appended to that file. Returns the metrics as a dict of floats.
    """
    values = {name: _to_float(name, value) for name, value in metrics.items()}
    for name, value in values.items():
        print(f"{name}: {_fmt(value)}")
    path = os.environ.get("D2L_REPORT")
    if path:
        record = {"metrics": values, "device": str(device()), "quick": is_quick()}
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    return values
