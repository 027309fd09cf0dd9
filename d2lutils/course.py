"""Run the course's notebooks and collect their key results into a scoreboard.

``python -m d2lutils.course --out build [04 05 ...]`` executes each lesson in ``notebooks/``
and each worked-solutions notebook in ``notebooks/solutions/`` (all of them, or those whose
names start with the given prefixes) in a fresh kernel, saves the executed copy under
``build/`` (``build/solutions/`` for the solutions), and writes ``build/scoreboard.json``
and ``build/scoreboard.md``.

Notebooks report their results with :func:`d2lutils.report`, which appends JSON lines to
the file named by ``D2L_REPORT``; this runner sets that variable for each notebook, so the
scoreboard only ever holds numbers the notebooks printed while running.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path

# nbclient, nbformat and traitlets come with the dev extra (the runner is a tool of the
# repository, not of the course library), so they are imported where the runner uses them.

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def select_notebooks(notebook_dir: Path, prefixes: list[str]) -> list[Path]:
    """The lessons of ``notebook_dir`` and their worked solutions (``solutions/``), in order.

    Each lesson comes right before its solutions notebook. With `prefixes`, only the
    notebooks whose file names start with one of them (``04`` gives both of chapter 4).
    """
    lessons = sorted(notebook_dir.glob("[0-9][0-9]_*.ipynb"))
    solutions = sorted((notebook_dir / "solutions").glob("[0-9][0-9]_*.ipynb"))
    paths = sorted(lessons + solutions, key=lambda p: (p.name[:2], p.parent != notebook_dir))
    if prefixes:
        paths = [p for p in paths if any(p.name.startswith(x) for x in prefixes)]
        if not paths:
            raise SystemExit(f"no notebook in {notebook_dir} starts with {' or '.join(prefixes)}")
    return paths


def read_reports(path: Path) -> tuple[dict[str, float], str | None, bool | None]:
    """Merge the JSON lines a notebook appended through ``d2lutils.report``."""
    metrics: dict[str, float] = {}
    device, quick = None, None
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                metrics.update(entry.get("metrics", {}))
                device = entry.get("device", device)
                quick = entry.get("quick", quick)
    return metrics, device, quick


def _kernel_config(socket_dir: str):
    """Kernel-manager settings: the kernel talks over local sockets (IPC) in `socket_dir`.

    Over TCP, ipykernel warns for every notebook that its traffic is unencrypted; IPC sockets
    are files in a folder only this user can reach, so there is nothing to warn about. The
    socket path is absolute because the kernel starts in the notebook's folder. Windows has
    no IPC transport and keeps TCP on the loopback interface.
    """
    from traitlets.config import Config

    config = Config()
    if sys.platform != "win32":
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = os.path.join(socket_dir, "kernel")
    return config


def _failure(err: Exception, timeout: int | None) -> str:
    """One line that says why a notebook stopped."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    if isinstance(err, DeadKernelError):
        return "the kernel died (crashed or ran out of memory) while a cell was running"
    if isinstance(err, CellTimeoutError):
        return f"a cell timed out (over {timeout} s)"
    text = str(err).strip()
    return text.splitlines()[-1] if text else repr(err)


def run_notebook(path: Path, out_dir: Path, timeout: int | None = None) -> dict:
    """Execute one notebook in its own folder, save the executed copy in `out_dir`, and
    return its scoreboard entry.

    A failure (an exception in a cell, a dead kernel, a cell over `timeout` seconds) is
    recorded in the entry's ``error``; the partly executed notebook is saved all the same,
    so it shows where it stopped.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    report_file = out_dir / f"{path.stem}.report.jsonl"
    report_file.unlink(missing_ok=True)
    os.environ["D2L_REPORT"] = str(report_file.resolve())
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    error = None
    with tempfile.TemporaryDirectory(prefix="d2l-kernel-") as sockets:
        client = NotebookClient(  # it owns its kernel manager, so it shuts the kernel down
            nb, kernel_name="python3", config=_kernel_config(sockets), timeout=timeout,
            resources={"metadata": {"path": str(path.parent)}},
        )
        try:
            client.execute()
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
            error = _failure(err, timeout)
        finally:
            os.environ.pop("D2L_REPORT", None)
    wall = time.perf_counter() - start
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / path.name)
    metrics, device, quick = read_reports(report_file)
    if quick is None:  # the notebook reported nothing: describe the environment it ran in
        from d2lutils.config import is_quick
        from d2lutils.device import device as pick_device  # imports torch: only when needed

        quick, device = is_quick(), str(pick_device())
    entry = {
        "mode": "quick" if quick else "full",
        "device": device,
        "wall_s": round(wall, 1),
        "metrics": metrics,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    }
    if error:
        entry["error"] = error
    return entry


def write_scoreboard(board: dict[str, dict], out_dir: Path) -> None:
    """Write ``scoreboard.json`` and a Markdown table of the same entries."""
    (out_dir / "scoreboard.json").write_text(json.dumps(board, indent=2, sort_keys=True) + "\n")
    lines = [
        "# Scoreboard",
        "",
        "Written by `make course`: each notebook executed top to bottom; every number below",
        "was printed by the notebook while it ran.",
        "",
        "| notebook | mode | device | wall (s) | metrics |",
        "| --- | --- | --- | ---: | --- |",
    ]
    for name in sorted(board):
        e = board[name]
        shown = ", ".join(f"{k} = {v:.4g}" for k, v in sorted(e["metrics"].items())) or "-"
        if "error" in e:
            shown += f" **failed: {e['error']}**"
        lines.append(f"| {name} | {e['mode']} | {e['device']} | {e['wall_s']} | {shown} |")
    (out_dir / "scoreboard.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefixes", nargs="*", help="notebook name prefixes, e.g. 04 05")
    parser.add_argument("--out", type=Path, default=Path("build"))
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOK_DIR)
    parser.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    parser.add_argument("--jobs", type=int, default=1,
                        help="notebooks run at once, each in its own process (default 1)")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    board_path = args.out / "scoreboard.json"
    board = json.loads(board_path.read_text()) if board_path.exists() else {}
    failed = []

    def record(path: Path, entry: dict) -> None:
        board[path.stem] = entry
        write_scoreboard(board, args.out)  # after each notebook, so a long run shows progress
        shown = ", ".join(f"{k}={v:.4g}" for k, v in entry["metrics"].items())
        print(f"  {path.name}: {entry['wall_s']} s on {entry['device']}: "
              f"{shown or 'no metrics'}", flush=True)
        if "error" in entry:
            failed.append(path.name)
            print(f"  FAILED: {entry['error']}", flush=True)

    paths = select_notebooks(args.notebooks, args.prefixes)
    # the executed copy keeps the notebook's place: build/solutions/NN_..._solutions.ipynb
    jobs = [(p, args.out / p.relative_to(args.notebooks).parent) for p in paths]
    if args.jobs <= 1:
        for path, out_dir in jobs:
            print(f"running {path.relative_to(args.notebooks)} ...", flush=True)
            record(path, run_notebook(path, out_dir, args.timeout))
    else:
        print(f"running {len(jobs)} notebooks, {args.jobs} at a time ...", flush=True)
        # each notebook in a fresh process of its own: D2L_REPORT is per process
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=spawn) as pool:
            futures = {pool.submit(run_notebook, p, o, args.timeout): p for p, o in jobs}
            for future in as_completed(futures):
                record(futures[future], future.result())
    print(f"scoreboard: {args.out / 'scoreboard.md'}")
    if failed:
        print("failed notebooks: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
