"""Notebooks are committed clean: no stale outputs, one kernel, the course's conventions."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
LESSONS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SOLUTIONS = sorted((NOTEBOOK_DIR / "solutions").glob("*.ipynb"))
NOTEBOOKS = LESSONS + SOLUTIONS
CHAPTERS = [p for p in LESSONS if re.match(r"(0[1-9]|10)_", p.name)]
CHECKS_HEADING = "Checks (used by the course's tests)"


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def exercises(path: Path) -> list[str]:
    """The numbered exercises of a lesson's (last) Exercises section."""
    markdown = [source(c) for c in cells(path) if c["cell_type"] == "markdown"]
    starts = [i for i, m in enumerate(markdown) if re.search(r"^#+\s*Exercises", m, re.M)]
    if not starts:
        return []
    tail = "\n".join(markdown[starts[-1]:])
    tail = tail[re.search(r"^#+\s*Exercises", tail, re.M).end():]
    return re.findall(r"^\s*\d+\.\s", tail, re.M)


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
    assert any(re.search(r"^#+\s*Exercises", m, re.M) for m in markdown), (
        f"{path.name} has no Exercises section")
    count = len(exercises(path))
    assert 3 <= count <= 6, f"{path.name} has {count} exercises, want 3-6"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_exercise_has_a_worked_solution(path):
    """solutions/NN_topic_solutions.ipynb has one "## Exercise N" section per exercise, in
    order, the same set-up cell as the lessons, and the lesson links to it."""
    solutions = NOTEBOOK_DIR / "solutions" / f"{path.stem}_solutions.ipynb"
    assert solutions.is_file(), f"{path.name}: no worked solutions at solutions/{solutions.name}"
    cs = cells(solutions)
    first_code = next(source(c) for c in cs if c["cell_type"] == "code")
    for needed in ('"google.colab" in sys.modules', "d2lutils.device()", "d2lutils.set_seed("):
        assert needed in first_code, f"{solutions.name}: set-up cell lacks {needed}"
    headings = [int(n) for c in cs if c["cell_type"] == "markdown"
                for n in re.findall(r"^##\s+Exercise\s+(\d+)\b", source(c), re.M)]
    wanted = list(range(1, len(exercises(path)) + 1))
    assert headings == wanted, f"{solutions.name}: sections {headings}, the lesson has {wanted}"
    link = f"solutions/{solutions.name}"
    assert any(link in source(c) for c in cells(path) if c["cell_type"] == "markdown"), (
        f"{path.name} does not point to {link}")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_each_lesson_ends_with_one_checks_cell(path):
    """The test thresholds sit in one code cell tagged checks and remove-cell, the last code
    cell, headed by a markdown cell (DESIGN.md, "The lesson and the harness")."""
    cs = cells(path)
    tagged = [i for i, c in enumerate(cs) if "checks" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged checks, want 1"
    i = tagged[0]
    assert cs[i]["cell_type"] == "code"
    assert "remove-cell" in cs[i]["metadata"]["tags"], f"{path.name}: checks cell not removed"
    assert not any(c["cell_type"] == "code" for c in cs[i + 1:]), (
        f"{path.name}: code after the checks cell")
    assert any(CHECKS_HEADING in source(c) for c in cs[:i] if c["cell_type"] == "markdown"), (
        f"{path.name}: no markdown heading {CHECKS_HEADING!r} before the checks cell")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_test_threshold_outside_the_checks_cell(path):
    """A bound on a metric, or a quick-mode bound that cannot fail, is harness, not lesson."""
    harness = re.compile(
        r"assert\b[^\n]*\b\w*(acc|loss|ppl|perplexity|rmse|error)\w*(\[-1\])?\s*[<>]=?\s*[\d.]"
        r"|quick\([^()\n]*,\s*0(\.0*)?\s*\)")
    for i, cell in enumerate(cells(path)):
        tags = cell["metadata"].get("tags", [])
        if cell["cell_type"] == "code" and "checks" not in tags:
            found = harness.search(source(cell))
            assert not found, f"{path.name} cell {i}: {found.group(0)!r} belongs in the checks cell"
        if "checks" in tags:
            assert not re.search(r"quick\([^()\n]*,\s*0(\.0*)?\s*\)", source(cell)), (
                f"{path.name}: a quick-mode bound of 0 cannot fail")


def headings(path: Path) -> list[tuple[int, str]]:
    """(level, text) of every Markdown heading, in order, outside code fences."""
    found = []
    for cell in cells(path):
        if cell["cell_type"] != "markdown":
            continue
        fenced = False
        for line in source(cell).splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            elif not fenced and (m := re.match(r"(#{1,6})\s+(.*)", line)):
                found.append((len(m.group(1)), m.group(2)))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_title_and_no_skipped_heading_level(path):
    # the book's pages are built from these headings, and Sphinx refuses a page whose
    # headings jump a level (# then ###): the table of contents would have a hole
    found = headings(path)
    assert [level for level, _ in found].count(1) == 1 and found[0][0] == 1, (
        f"{path.name} must open with its one # title")
    for (before, _), (level, text) in zip(found, found[1:], strict=False):
        assert level <= before + 1, f"{path.name}: '{text}' jumps from level {before} to {level}"
