"""The course runner executes notebooks and keeps only what they reported."""

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

from d2lutils import course


def write_notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)


def test_scoreboard_holds_what_the_notebook_reported(tmp_path, monkeypatch):
    monkeypatch.delenv("D2L_QUICK", raising=False)
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    write_notebook(nbs / "01_a.ipynb", "import d2lutils\nd2lutils.report(test_acc=0.25 * 3)")
    write_notebook(nbs / "02_b.ipynb", "raise ValueError('boom')")
    out = tmp_path / "build"

    assert course.main(["--notebooks", str(nbs), "--out", str(out), "01"]) == 0
    board = json.loads((out / "scoreboard.json").read_text())
    assert board["01_a"]["metrics"] == {"test_acc": 0.75}
    assert board["01_a"]["mode"] == "full"
    assert board["01_a"]["device"] == "cpu"
    assert (out / "01_a.ipynb").exists()
    assert "test_acc = 0.75" in (out / "scoreboard.md").read_text()

    # A failing notebook fails the run, keeps the earlier entry and says what broke.
    assert course.main(["--notebooks", str(nbs), "--out", str(out), "02"]) == 1
    board = json.loads((out / "scoreboard.json").read_text())
    assert set(board) == {"01_a", "02_b"}
    assert "boom" in board["02_b"]["error"]


def test_a_dead_kernel_or_a_timeout_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    """A crashed kernel or a cell over the time limit fails that notebook only: its partial
    copy is kept, the scoreboard says what happened, and the next notebook still runs."""
    monkeypatch.delenv("D2L_QUICK", raising=False)
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    write_notebook(nbs / "01_dies.ipynb", "print('before')", "import os\nos._exit(1)")
    write_notebook(nbs / "02_hangs.ipynb", "import time\ntime.sleep(60)")
    write_notebook(nbs / "03_fine.ipynb", "print('still running')")  # fast: no torch import
    out = tmp_path / "build"

    assert course.main(["--notebooks", str(nbs), "--out", str(out), "--timeout", "5"]) == 1
    board = json.loads((out / "scoreboard.json").read_text())
    assert set(board) == {"01_dies", "02_hangs", "03_fine"}
    assert "kernel died" in board["01_dies"]["error"]
    assert "timed out" in board["02_hangs"]["error"]
    assert "error" not in board["03_fine"]
    assert nbformat.read(out / "03_fine.ipynb", as_version=4).cells[0].outputs
    partial = nbformat.read(out / "01_dies.ipynb", as_version=4)
    assert partial.cells[0].outputs[0]["text"] == "before\n"
    assert "failed" in (out / "scoreboard.md").read_text()


def _my_kernels() -> list[int]:
    """Process ids of the ipykernel processes this process started (Linux's /proc)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"ipykernel" in cmdline:
            found.append(int(proc.name))
    return found


def test_kernels_are_quiet_and_shut_down(tmp_path, monkeypatch, capfd):
    """No warning about unencrypted TCP, and no kernel left running after its notebook."""
    monkeypatch.delenv("D2L_QUICK", raising=False)
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    write_notebook(nbs / "01_a.ipynb", "1 + 1")
    write_notebook(nbs / "02_b.ipynb", "2 + 2")
    assert course.main(["--notebooks", str(nbs), "--out", str(tmp_path / "build")]) == 0
    captured = capfd.readouterr()
    assert "without encryption" not in captured.out + captured.err
    if sys.platform.startswith("linux"):
        assert _my_kernels() == [], "kernels were left running"


def test_solutions_run_after_their_lesson_and_keep_their_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("D2L_QUICK", raising=False)
    nbs = tmp_path / "notebooks"
    (nbs / "solutions").mkdir(parents=True)
    for name in ("01_a", "02_b", "solutions/01_a_solutions", "solutions/02_b_solutions"):
        write_notebook(nbs / f"{name}.ipynb", "1 + 1")
    picked = course.select_notebooks(nbs, [])
    assert [p.relative_to(nbs).as_posix() for p in picked] == [
        "01_a.ipynb", "solutions/01_a_solutions.ipynb",
        "02_b.ipynb", "solutions/02_b_solutions.ipynb"]
    assert [p.name for p in course.select_notebooks(nbs, ["02"])] == [
        "02_b.ipynb", "02_b_solutions.ipynb"]

    out = tmp_path / "build"
    assert course.main(["--notebooks", str(nbs), "--out", str(out), "01"]) == 0
    assert (out / "01_a.ipynb").is_file()
    assert (out / "solutions" / "01_a_solutions.ipynb").is_file()
    assert set(json.loads((out / "scoreboard.json").read_text())) == {"01_a", "01_a_solutions"}


def test_notebooks_run_side_by_side_keep_their_own_results(tmp_path, monkeypatch):
    monkeypatch.delenv("D2L_QUICK", raising=False)
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    for i in range(1, 4):
        source = f"import d2lutils\nd2lutils.report(test_acc={i / 10})"
        write_notebook(nbs / f"0{i}_n.ipynb", source)
    out = tmp_path / "build"
    assert course.main(["--notebooks", str(nbs), "--out", str(out), "--jobs", "2"]) == 0
    board = json.loads((out / "scoreboard.json").read_text())
    assert {name: e["metrics"] for name, e in board.items()} == {
        "01_n": {"test_acc": 0.1}, "02_n": {"test_acc": 0.2}, "03_n": {"test_acc": 0.3}}


def test_unknown_prefix_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="no notebook"):
        course.select_notebooks(tmp_path, ["99"])
