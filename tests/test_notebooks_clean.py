"""Notebooks are committed clean: no stale outputs, one kernel, the course's conventions."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
CHAPTERS = [p for p in NOTEBOOKS if re.match(r"(0[1-9]|10)_", p.name)]


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_committed_outputs(path):
    for i, cell in enumerate(cells(path)):
        if cell["cell_type"] != "code":
            continue
        checked = source(cell).lstrip().startswith("# NBVAL_CHECK_OUTPUT")
        if not checked:
            assert cell["outputs"] == [], f"{path.name} cell {i} has committed outputs"
            assert cell["execution_count"] is None, f"{path.name} cell {i} has an execution count"
        else:
            assert cell["execution_count"] is not None, (
                f"{path.name} cell {i}: nbval needs an execution count with a checked output")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kernel_and_no_machine_paths(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        text = source(cell)
        machine_path = re.search(r"(/tmp/|/work/|/root/|/home/\w)", text)
        assert not machine_path, f"machine path in {path.name}: {machine_path}"
        assert "download=True" not in text, f"{path.name} bypasses d2lutils.data"
        assert "NBVAL_SKIP" not in text, f"{path.name} skips a cell under the tests"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_shape(path):
    """Each chapter sets up device and seed first and ends with a summary and exercises."""
    cs = cells(path)
    first_code = next(source(c) for c in cs if c["cell_type"] == "code")
    for needed in ('"google.colab" in sys.modules', "d2lutils.device()", "d2lutils.set_seed("):
        assert needed in first_code, f"{path.name}: set-up cell lacks {needed}"
    markdown = [source(c) for c in cs if c["cell_type"] == "markdown"]
    assert any(re.search(r"^#+\s*Summary", m, re.M) for m in markdown), path.name
    starts = [i for i, m in enumerate(markdown) if re.search(r"^#+\s*Exercises", m, re.M)]
    assert starts, f"{path.name} has no Exercises section"
    tail = "\n".join(markdown[starts[-1]:])
    tail = tail[re.search(r"^#+\s*Exercises", tail, re.M).end():]
    count = len(re.findall(r"^\s*\d+\.\s", tail, re.M))
    assert 3 <= count <= 6, f"{path.name} has {count} exercises, want 3-6"
