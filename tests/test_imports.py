"""`import d2lutils` has no side effects: no matplotlib, no IPython, no allocator change.

The check runs in a fresh interpreter, since this one has long imported everything. That
training on the CPU turns the allocator tuning on is tested in test_device.py.
"""

import json
import os
import subprocess
import sys

import pytest

# Records every lookup of mallopt in the C library, then imports d2lutils as a learner would.
_CODE = """
import ctypes, json, sys
calls = []
class Spy(ctypes.CDLL):
    def __getattr__(self, name):
        if name == "mallopt":
            calls.append(name)
        return super().__getattr__(name)
ctypes.CDLL = Spy

def state():
    return {
        "heavy": sorted(m for m in ("matplotlib", "IPython") if m in sys.modules),
        "submodules": sorted(m for m in ("d2lutils.plot", "d2lutils.train") if m in sys.modules),
        "mallopt": list(calls),
        "tuned": d2lutils.tune_cpu_allocator.cache_info().currsize,
    }

import d2lutils, d2lutils.data, d2lutils.data.__main__
after_import = state()
fit = d2lutils.train.fit  # the attribute imports the submodule
from d2lutils import data, plot, train
print(json.dumps({
    "after_import": after_import,
    "after_train": state(),
    "same": fit is train.fit and plot is d2lutils.plot and data is d2lutils.data,
    "dir": sorted(set(dir(d2lutils)) & {"data", "plot", "train", "device", "set_seed"}),
}))
"""


def test_import_has_no_side_effects_and_submodules_load_on_first_use():
    out = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True,
                         check=True, env={**os.environ, "D2L_DEVICE": "cpu"})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["after_import"] == {"heavy": [], "submodules": [], "mallopt": [], "tuned": 0}
    after = result["after_train"]
    assert after["submodules"] == ["d2lutils.plot", "d2lutils.train"]
    assert after["mallopt"] == [] and after["tuned"] == 0  # importing train is not training
    assert "IPython" not in after["heavy"]  # only a notebook's live plot or bar needs it
    assert result["same"] is True
    assert result["dir"] == ["data", "device", "plot", "set_seed", "train"]


def test_a_misspelt_attribute_is_an_attribute_error():
    import d2lutils

    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        d2lutils.trian  # noqa: B018
