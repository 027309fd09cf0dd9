"""``make book``: the course as a static website, built from its executed notebooks.

    python book/build.py                 # full mode: reuses build/ from `make course`
    python book/build.py --quick         # quick mode into build/quick/ (what CI tests)

1. Every lesson and solutions notebook must have an executed copy in the executed folder
   (``build/`` or ``build/quick/``), in the right mode and newer than the notebook; the
   others are executed first by the course runner (`d2lutils.course`), which also writes
   the scoreboard. A notebook that fails stops the build: no page shows a broken run.
2. The copies are staged with a line on each page that says how and where it ran, their
   progress-bar widgets turned into the text of their final state (a widget would need
   JavaScript from a CDN), and a landing page made from the README and the scoreboard.
3. Sphinx (MyST-NB, sphinx-book-theme) writes the site into ``build/book/``; MathJax is
   copied into it, so the site needs no network to build or to read.

Cells tagged ``remove-cell`` (the tests' checks) are left out of the pages by MyST-NB.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
HERE = Path(__file__).resolve().parent
TITLE = "Deep learning with PyTorch, hands on"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions",
                 "ui", "a11y", "sre")


def sources() -> list[Path]:
    """The lessons and their solutions, in reading order."""
    from d2lutils.course import select_notebooks

    return select_notebooks(NOTEBOOKS, [])


def read_board(executed: Path) -> dict[str, dict]:
    path = executed / "scoreboard.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def stale(executed: Path, mode: str) -> list[str]:
    """Chapter prefixes ("04", ...) whose executed copies are missing, older than the
    notebook, in the other mode, or failed."""
    board = read_board(executed)
    prefixes = set()
    for src in sources():
        copy = executed / src.relative_to(NOTEBOOKS)
        entry = board.get(src.stem, {})
        if (not copy.exists() or copy.stat().st_mtime < src.stat().st_mtime
                or entry.get("mode") != mode or "error" in entry):
            prefixes.add(src.name[:2])
    return sorted(prefixes)


def execute(executed: Path, prefixes: list[str], quick: bool, jobs: int) -> None:
    """Run the course runner on `prefixes` in the requested mode; stop if a notebook fails."""
    env = dict(os.environ)
    env.pop("D2L_QUICK", None)
    if quick:
        env["D2L_QUICK"] = "1"
    command = [sys.executable, "-m", "d2lutils.course", "--out", str(executed),
               "--jobs", str(jobs), *prefixes]
    print("executing:", " ".join(prefixes), flush=True)
    if subprocess.run(command, env=env, cwd=ROOT).returncode != 0:
        raise SystemExit(f"make book: a notebook failed; see {executed / 'scoreboard.md'} and "
                         "the executed copy, fix it, then build again")


# ---------------------------------------------------------------- staging the notebooks

def _widget_text(state: dict, model_id: str) -> str | None:
    """The text of a tqdm progress bar (an HBox of HTML, FloatProgress, HTML) at its end."""
    model = state.get(model_id)
    if not model or model.get("model_name") != "HBoxModel":
        return None
    parts = []
    for ref in model["state"].get("children", []):
        child = state.get(ref.removeprefix("IPY_MODEL_"), {})
        s = child.get("state", {})
        if child.get("model_name") == "HTMLModel":
            parts.append(html.unescape(re.sub(r"<[^>]+>", "", s.get("value", ""))).strip())
        elif child.get("model_name") == "FloatProgressModel":
            done = s.get("value", 0) / s.get("max", 1) if s.get("max") else 0.0
            parts.append("|" + "\u2588" * round(10 * done) + " " * (10 - round(10 * done)) + "|")
    return " ".join(p for p in parts if p) or None


def static_widgets(nb) -> int:
    """Replace widget outputs by the text of their final state; return how many."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is not None:
                text = _widget_text(state, view.get("model_id", ""))
                out["data"] = {"text/plain": text or out["data"].get("text/plain", "")}
                count += 1
    nb.metadata.pop("widgets", None)
    return count


def run_note(entry: dict) -> str:
    """The line at the top of a page: how, where and when its outputs were produced."""
    if entry.get("mode") == "quick":
        how = ("in **quick mode** (less data, fewer epochs, for the tests): its numbers are "
               "not the course's results")
    else:
        how = "in full mode"
    return (f":::{{note}}\nEvery output on this page was produced by running the notebook "
            f"{how}, on `{entry.get('device', '?')}`, on {entry.get('date', '?')} "
            f"({entry.get('wall_s', '?')} s), by `make course`.\n:::")


def drop_harness_headings(nb) -> None:
    """Drop the markdown cell that heads a removed cell (the "Checks (used by the course's
    tests)" line): MyST-NB leaves out the tagged cell, and the heading would stand alone."""
    keep = []
    for i, cell in enumerate(nb.cells):
        following = nb.cells[i + 1] if i + 1 < len(nb.cells) else None
        heads_removed = (cell.cell_type == "markdown" and following is not None
                         and "remove-cell" in following.metadata.get("tags", [])
                         and "used by the course's tests" in cell.source)
        if not heads_removed:
            keep.append(cell)
    nb.cells = keep


def stage_notebook(copy: Path, target: Path, entry: dict) -> None:
    nb = nbformat.read(copy, as_version=4)
    static_widgets(nb)
    drop_harness_headings(nb)
    note = nbformat.v4.new_markdown_cell(run_note(entry))
    note.id = "run-note"
    nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0, note)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


def copy_mathjax(static: Path) -> None:
    import mathjax  # the django-static-mathjax package: MathJax 3 as plain files

    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    for part in MATHJAX_PARTS:
        src, dst = es5 / part, static / "mathjax" / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


# ---------------------------------------------------------------- the landing page

def notebook_title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        m = re.search(r"^#\s+(.+)$", cell.source, re.M) if cell.cell_type == "markdown" else None
        if m:
            return m.group(1).strip()
    return path.stem


def readme_table() -> dict[str, str]:
    """'what you learn' of each notebook, from the README's table (one place says it)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `(\d\d_\w+)` \| (.+?) \|$", text, re.M))


def readme_intro() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n\n", 2)[1].strip()


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def landing_page(board: dict[str, dict], quick: bool) -> str:
    learn = readme_table()
    lessons = [p for p in sources() if p.parent == NOTEBOOKS]
    rows = []
    for path in lessons:
        sol = NOTEBOOKS / "solutions" / f"{path.stem}_solutions.ipynb"
        solutions = f"[solutions](solutions/{sol.stem}.ipynb)" if sol.exists() else ""
        rows.append(f"| [{notebook_title(path)}]({path.name}) | {learn.get(path.stem, '')} "
                    f"| {solutions} |")
    score = []
    for name in sorted(board):
        e = board[name]
        metrics = ", ".join(f"`{k}` {_fmt(v)}" for k, v in sorted(e["metrics"].items()))
        score.append(f"| {name} | {e['mode']} | `{e['device']}` | {e['wall_s']} "
                     f"| {metrics or '-'} |")
    devices = sorted({e["device"] for e in board.values()})
    mode = "quick" if quick else "full"
    toc_lessons = "\n".join(p.stem for p in lessons)
    toc_solutions = "\n".join(f"solutions/{p.stem}" for p in sources() if p.parent != NOTEBOOKS)
    return f"""# {TITLE}

{readme_intro()}

This site is the course as it ran: every output, figure and number on its pages was produced
by executing the notebooks ({mode} mode, on {', '.join(f'`{d}`' for d in devices)}). The
harness cells that the tests use are left out; the notebooks themselves are in the
repository, without outputs.

## Quick start

You need Python 3.10 or newer, `make`, and about 7 GB of disk.

```bash
make lab    # creates .venv, fetches the data, opens JupyterLab on notebooks/
make test   # ruff, unit tests and every notebook in quick mode
```

In Colab, open a notebook with the *Colab* button at the top of its page: its first cell
installs the course library. Each page can also be downloaded as a notebook with its outputs.

## The notebooks

| notebook | what you learn | |
| --- | --- | --- |
{chr(10).join(rows)}

## Scoreboard

The key results, as the notebooks reported them while they ran (`make course` writes
`build/scoreboard.md`).

| notebook | mode | device | wall (s) | metrics |
| --- | --- | --- | ---: | --- |
{chr(10).join(score)}

```{{toctree}}
:hidden:
:caption: Lessons

{toc_lessons}
```

```{{toctree}}
:hidden:
:caption: Worked solutions

{toc_solutions}
```
"""


# ---------------------------------------------------------------- the build

def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def repository() -> str:
    """The repository URL of pyproject.toml's [project.urls], from the installed metadata."""
    from importlib.metadata import metadata

    for entry in metadata("d2lutils").get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository":
            return url.strip()
    raise SystemExit("make book: pyproject.toml names no Repository URL; run make install")


def build(executed: Path, out: Path, quick: bool, strict: bool = True) -> Path:
    """Stage the executed notebooks and run Sphinx; return the site's folder.

    `strict` turns Sphinx's warnings (a broken link, say) into a failed build."""
    board = read_board(executed)
    staging = out.parent / f"{out.name}-src"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "_static").mkdir(parents=True)
    for src in sources():
        rel = src.relative_to(NOTEBOOKS)
        stage_notebook(executed / rel, staging / rel, board.get(src.stem, {}))
    (staging / "index.md").write_text(landing_page(board, quick), encoding="utf-8")
    shutil.copyfile(HERE / "conf.py", staging / "conf.py")
    shutil.copyfile(HERE / "course.css", staging / "_static" / "course.css")
    copy_mathjax(staging / "_static")
    announcement = ("Quick-mode build for the course's tests: pages show runs on less data and "
                    "fewer epochs, not the course's results." if quick else "")
    settings = {"title": TITLE, "repository": repository(), "branch": git("rev-parse",
                "--abbrev-ref", "HEAD") or "main", "announcement": announcement,
                "year": str(datetime.now(timezone.utc).year)}
    (staging / "book.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")

    from sphinx.cmd.build import build_main

    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    options = ["-W", "--keep-going"] if strict else []
    if build_main(["-b", "html", "-q", *options, str(staging), str(out)]) != 0:
        raise SystemExit("make book: Sphinx reported problems (above)")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    print(f"book: {out / 'index.html'} ({size:.0f} MB, Sphinx {time.perf_counter() - start:.0f} s)")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quick-mode build (the tests)")
    parser.add_argument("--executed", type=Path, default=None,
                        help="folder of executed notebooks (default build/ or build/quick/)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "book")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks executed at once")
    args = parser.parse_args(argv)
    executed = args.executed or ROOT / "build" / ("quick" if args.quick else "")
    todo = stale(executed, "quick" if args.quick else "full")
    if todo:
        execute(executed, todo, args.quick, args.jobs)
    build(executed, args.out, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
