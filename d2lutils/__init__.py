"""d2lutils: the shared helpers of a hands-on deep-learning course in PyTorch.

``import d2lutils`` gives the configuration and device helpers at the top level; the
submodules `d2lutils.data`, `d2lutils.plot` and `d2lutils.train` are imported on first use
(``d2lutils.train.fit`` or ``from d2lutils import data, plot, train``), so importing the
package loads neither matplotlib nor IPython and changes nothing in the process.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from d2lutils.config import is_quick, quick, report
from d2lutils.device import device, set_seed, try_all_gpus, try_gpu, tune_cpu_allocator

__version__ = "0.1.0"

_SUBMODULES = ("data", "plot", "train")

__all__ = [
    "data",
    "device",
    "is_quick",
    "plot",
    "quick",
    "report",
    "set_seed",
    "train",
    "try_all_gpus",
    "try_gpu",
    "tune_cpu_allocator",
]


def __getattr__(name: str) -> ModuleType:
    """Import `d2lutils.data`, `.plot` and `.train` when first used (PEP 562)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"d2lutils.{name}")
    raise AttributeError(f"module 'd2lutils' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))
