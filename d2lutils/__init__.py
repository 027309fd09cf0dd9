"""d2lutils: the shared helpers of a hands-on deep-learning course in PyTorch.

``import d2lutils`` gives the configuration and device helpers at the top level and the
submodules `d2lutils.data`, `d2lutils.plot` and `d2lutils.train`.
"""

from d2lutils import data, plot, train
from d2lutils.config import is_quick, quick, report
from d2lutils.device import device, set_seed, try_all_gpus, try_gpu, tune_cpu_allocator

tune_cpu_allocator()  # see its docstring: CPU training page-faults far less

__version__ = "0.1.0"

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
