"""Loading never runs code: checkpoints go through torch.load(weights_only=True), CIFAR-10
batches through an unpickler that only knows arrays, and no torch.load in the course drops
weights_only=True.

The payload is real: an object whose ``__reduce__`` asks pickle to call ``os.system`` to
create a marker file. A plain load really does run it (checked in a child process), so the
refusals below are refusals of live code, and the marker proves that nothing ran.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from d2lutils import data, train
from d2lutils.data import DataError
from d2lutils.data.standin import write_cifar10_standin

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ["d2lutils", "notebooks", "tests", "benchmarks", "e2e"]


class Payload:
    """Pickles as "call os.system('touch <marker>')"."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "the-payload-ran"


def _torch_load_calls(text: str) -> list[str]:
    """The argument text of every ``torch.load`` call in `text` (parentheses balanced)."""
    calls = []
    for m in re.finditer(r"\btorch\.load\(", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        calls.append(text[m.end(): i - 1])
    return calls


def _sources() -> list[tuple[Path, str]]:
    found = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix == ".py":
                found.append((path, path.read_text(encoding="utf-8")))
            elif path.suffix == ".ipynb" and ".ipynb_checkpoints" not in path.parts:
                cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
                code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
                found.append((path, code))
    return found


def test_every_torch_load_in_the_course_uses_weights_only():
    unsafe = []
    for path, text in _sources():
        for args in _torch_load_calls(text):
            if "weights_only=True" not in args.replace(" ", ""):
                unsafe.append(f"{path.relative_to(ROOT)}: arguments ({args})")
    # this file builds its one unsafe call (below) without writing it out, on purpose
    assert unsafe == [], "torch.load without weights_only=True:\n" + "\n".join(unsafe)
    assert _torch_load_calls("torch.load(f, map_location=dict(a=1), weights_only=True)") == [
        "f, map_location=dict(a=1), weights_only=True"]


def test_the_payload_is_live_when_loaded_unsafely(tmp_path, marker):
    """Control: without weights_only the same file runs its code (in a child process)."""
    path = tmp_path / "evil.pt"
    torch.save({"weight": Payload(marker)}, path)
    unsafe_load = "torch." + "load"  # kept out of the scan above
    code = f"import torch; {unsafe_load}({str(path)!r}, weights_only=False)"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, capture_output=True)
    assert marker.exists()


def test_load_model_refuses_a_checkpoint_with_code(tmp_path, marker):
    path = tmp_path / "evil.pt"
    state = nn.Linear(3, 2).state_dict()
    state["bias"] = Payload(marker)  # a state dict with one poisoned entry
    torch.save(state, path)
    net = nn.Linear(3, 2)
    before = {k: v.clone() for k, v in net.state_dict().items()}

    with pytest.raises(ValueError) as info:
        train.load_model(net, path)

    message = str(info.value)
    assert message.startswith(f"refused to load {path}: it holds more than weights")
    assert "weights_only=False only if you made it yourself or fully trust its source" in message
    assert "posix.system" in message  # PyTorch names what it blocked
    assert not marker.exists(), "the pickled code ran"
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    with pytest.raises(ValueError, match="refused to load"):
        train.load_state(path)
    assert not marker.exists()


def test_load_model_refuses_a_pickled_module(tmp_path, marker):
    """``torch.save(net)`` pickles the class itself; only state dicts are accepted."""
    path = tmp_path / "whole-model.pt"
    torch.save(nn.Sequential(nn.Linear(3, 2)), path)
    with pytest.raises(ValueError, match="refused to load"):
        train.load_model(nn.Sequential(nn.Linear(3, 2)), path)


def test_load_model_refuses_a_checkpoint_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(ValueError, match="holds a list, not a state dict"):
        train.load_model(nn.Linear(3, 2), path)


# ------------------------------------------------------------ CIFAR-10 batches are pickles


@pytest.fixture
def cifar_root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("D2L_DATA_DIR", str(tmp_path / "data"))
    folder = write_cifar10_standin(per_batch=20, n_test=20)
    return folder


def test_cifar_loader_refuses_a_batch_with_code(cifar_root, marker, capsys):
    batch = cifar_root / "data_batch_3"
    with open(batch, "wb") as f:
        pickle.dump({"data": np.zeros((20, 3072), np.uint8), "labels": Payload(marker)}, f,
                    protocol=2)

    with pytest.raises(DataError) as info:
        data.cifar10(10, device="cpu")

    message = str(info.value)
    assert message.startswith(f"{batch}: refused to load posix.system")
    assert "run `make data DATASETS=cifar10`" in message
    assert not marker.exists(), "the pickled code ran"


def test_cifar_loader_reads_python2_batches_without_warnings(cifar_root, recwarn):
    """The real CIFAR-10 files were pickled by Python 2 and NumPy 1 (numpy.core.multiarray)."""
    batch = cifar_root / "test_batch"
    raw = batch.read_bytes()
    # the stand-in was pickled by this NumPy: 2.x names numpy._core, 1.x numpy.core already
    numpy1 = b"numpy.core.multiarray\n_reconstruct"
    raw = raw.replace(b"numpy._core.multiarray\n_reconstruct", numpy1)
    assert numpy1 in raw
    batch.write_bytes(raw)
    X, y = data.cifar10_arrays(train=False, announce=False)
    assert X.shape == (20, 32, 32, 3) and X.dtype == np.uint8 and y.shape == (20,)
    assert [str(w.message) for w in recwarn] == []
