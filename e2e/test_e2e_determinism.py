"""Same seed, same numbers: notebooks run twice in quick mode on the CPU report identical
metrics, compared exactly (not approximately).

Two notebooks are compared: 03 and 04 where they exist (both report metrics), else 00_setup
and a small generated one. Each runs in a fresh kernel through the course runner
(`d2lutils.course`), which collects what the notebook reported with `d2lutils.report`;
timing metrics are left out of the comparison. 00_setup reports nothing itself, so its copy
gets one extra cell that reports the final loss and accuracies of its training run. The
generated notebook combines a shuffled loader, dropout, Xavier initialization and Adam,
all through d2lutils.
"""

from __future__ import annotations

import re
import shutil

import nbformat
import pytest
from e2e_helpers import NOTEBOOKS, stopwatch

from d2lutils import course

# notebooks that report metrics; those present are compared as they are
REPORTING = [n for n in ("03_linear_regression", "04_softmax_regression")
             if (NOTEBOOKS / f"{n}.ipynb").exists()]
TIMING = re.compile(r"(per_sec|time|seconds|wall)")
SETUP_PROBE = """\
d2lutils.report(**{k: v for k, v in history.final.items()
                   if k in ("train_loss", "train_acc", "test_acc")})
"""
TINY = [
    "import torch\nfrom torch import nn\n\nimport d2lutils\nfrom d2lutils import data, train\n\n"
    "d2lutils.set_seed(0)",
    "X = torch.randn(512, 20)\ny = (X[:, :5].sum(1) > 0).long()\n"
    "train_iter = data.TensorLoader(X[:384], y[:384], batch_size=32, shuffle=True, device='cpu')\n"
    "test_iter = data.TensorLoader(X[384:], y[384:], batch_size=64, device='cpu')",
    "net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 2))\n"
    "history = train.fit(net, train_iter, test_iter, epochs=d2lutils.quick(8, 4), init='xavier',\n"
    "                    optimizer=torch.optim.Adam(net.parameters(), lr=0.01), device='cpu')",
    "d2lutils.report(train_loss=history.train_loss[-1], train_acc=history.train_acc[-1],\n"
    "                test_acc=history.test_acc[-1], first_weight=net[0].weight[0, 0])",
]


def _prepare(name: str, folder) -> object:
    """A copy of the notebook to run (in its own folder, so nothing lands in notebooks/)."""
    path = folder / f"{name}.ipynb"
    if name == "tiny_fixture":
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(src) for src in TINY]
        nbformat.write(nb, path)
    else:
        shutil.copyfile(NOTEBOOKS / f"{name}.ipynb", path)
        if name == "00_setup":
            nb = nbformat.read(path, as_version=4)
            nb.cells.append(nbformat.v4.new_code_cell(SETUP_PROBE))
            nbformat.write(nb, path)
    return path


# two notebooks, as CI time allows: the reporting ones; until both exist, 00_setup (with
# its probe cell) and the generated one fill in
COMPARED = (REPORTING + ["00_setup", "tiny_fixture"])[:2]


@pytest.mark.parametrize("name", COMPARED)
def test_two_runs_report_identical_metrics(name, scratch, build_dir, monkeypatch):
    monkeypatch.setenv("D2L_QUICK", "1")
    monkeypatch.setenv("D2L_DEVICE", "cpu")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    folder = scratch / "determinism" / name
    folder.mkdir(parents=True)
    path = _prepare(name, folder)
    runs = []
    for attempt in (1, 2):
        out = build_dir / "determinism" / f"run{attempt}"
        out.mkdir(parents=True, exist_ok=True)
        with stopwatch(f"determinism: {name} run {attempt}"):
            entry = course.run_notebook(path, out, timeout=600)
        assert "error" not in entry, f"{name} run {attempt} failed: {entry['error']}"
        assert entry["mode"] == "quick" and entry["device"] == "cpu", entry
        runs.append({k: v for k, v in entry["metrics"].items() if not TIMING.search(k)})
    assert runs[0], f"{name} reported no metric to compare"
    assert runs[0] == runs[1], f"{name}: the two runs differ: {runs[0]} != {runs[1]}"
