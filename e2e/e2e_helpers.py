"""Helpers of the end-to-end checks: paths, timings, clean environments, notebook outputs."""

from __future__ import annotations

import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
BUILD = REPO / "build" / "e2e"
TIMINGS: dict[str, float] = {}


@contextmanager
def stopwatch(what: str):
    """Record how long the block took under `what` (printed at the end, in timings.json)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        TIMINGS[what] = round(time.perf_counter() - start, 1)


def clean_env(venv: Path | None = None, **extra: str | Path) -> dict[str, str]:
    """A minimal environment, as a new terminal or a Colab kernel would have: none of this
    session's D2L_*, virtual-environment or Python variables; `venv`'s bin first on PATH."""
    path = "/usr/local/bin:/usr/bin:/bin"
    if venv is not None:
        path = f"{venv / 'bin'}:{path}"
    env = {"PATH": path, "LANG": os.environ.get("LANG", "C.UTF-8")}
    for keep in ("TMPDIR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS",
                 "PIP_CERT", "PIP_DEFAULT_TIMEOUT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        if keep in os.environ:
            env[keep] = os.environ[keep]
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(command: list, *, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """Run a command, failing the test with its output's tail if it fails or hangs."""
    command = [str(c) for c in command]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as err:
        tail = (err.stdout or b"")[-2000:] if isinstance(err.stdout, bytes) else err.stdout
        pytest.fail(f"timed out after {timeout:.0f} s: {' '.join(command)}\n{tail}")
    if proc.returncode != 0:
        pytest.fail(f"exit {proc.returncode}: {' '.join(command)}\n"
                    f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}")
    return proc


def errors_in(nb) -> list[str]:
    """'cell N: Name: value' for every error output of an executed notebook."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}")
    return found


def stream_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream")


def read_notebook(path: Path):
    return nbformat.read(path, as_version=4)


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"
