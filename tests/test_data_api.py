"""The public surface of d2lutils.data: what notebooks and learners call, and nothing else.

Every ``data.<name>`` (or ``d2lutils.data.<name>``) that a notebook, a solution, the e2e
tests or the benchmarks use must be exported; the internals must not be.
"""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import d2lutils.data

ROOT = Path(__file__).resolve().parent.parent
USE = re.compile(r"(?<![\w.])(?:d2lutils\.)?data\.([A-Za-z_]\w*)")
INTERNAL = ["safe_extract", "get_dataset", "dataset_dir", "write_cifar10_standin",
            "check_file", "file_digest", "swap_folder", "CIFAR10Dataset", "cifar10_dataset"]


def _code(path: Path) -> str:
    if path.suffix == ".py":
        return path.read_text(encoding="utf-8")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def used_names() -> dict[str, list[str]]:
    """name -> files that use it, over the notebooks, e2e/ and benchmarks/."""
    paths = [*ROOT.glob("notebooks/**/*.ipynb"), *ROOT.glob("e2e/*.py"),
             *ROOT.glob("benchmarks/*.py")]
    used: dict[str, list[str]] = {}
    for path in paths:
        if ".ipynb_checkpoints" in path.parts:
            continue
        code = _code(path)
        if "d2lutils" not in code:
            continue
        for name in set(USE.findall(code)):
            used.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return used


def test_every_name_the_course_uses_is_exported():
    used = used_names()
    assert "fetch" in used and "TensorLoader" in used  # the scan finds what is there
    missing = {n: files for n, files in used.items() if n not in d2lutils.data.__all__
               and not isinstance(getattr(d2lutils.data, n, None), types.ModuleType)}
    assert missing == {}


def test_internals_are_not_exported():
    exported = set(d2lutils.data.__all__)
    assert all(hasattr(d2lutils.data, n) for n in exported)
    assert [n for n in INTERNAL if n in exported or hasattr(d2lutils.data, n)] == []
