"""Shared pieces of the end-to-end checks (`make e2e`): paths, timings, clean environments.

Everything these checks write that is worth keeping (executed notebooks, screenshots,
server logs, timings.json) goes to build/e2e/; the large throw-away parts (a fresh virtual
environment, a git clone) go to a temporary folder outside the repository.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from e2e_helpers import BUILD, TIMINGS


def pytest_terminal_summary(terminalreporter):
    if not TIMINGS:
        return
    BUILD.mkdir(parents=True, exist_ok=True)
    (BUILD / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")
    terminalreporter.section("e2e timings (seconds)")
    for what, seconds in TIMINGS.items():
        terminalreporter.write_line(f"{seconds:8.1f}  {what}")


@pytest.fixture(scope="session")
def build_dir() -> Path:
    """build/e2e/, emptied first so that nothing in it is left from an earlier run."""
    shutil.rmtree(BUILD, ignore_errors=True)
    BUILD.mkdir(parents=True)
    return BUILD


@pytest.fixture(scope="session")
def scratch():
    """A temporary folder outside the repository, removed at the end (E2E_KEEP=1 keeps it)."""
    folder = Path(tempfile.mkdtemp(prefix="d2l-e2e-"))
    yield folder
    if os.environ.get("E2E_KEEP", "") != "1":
        shutil.rmtree(folder, ignore_errors=True)
    else:
        print(f"\nkept {folder}")


@pytest.fixture(scope="session")
def mirror(scratch) -> Path:
    """A local D2L_DATA_MIRROR: the one given (CI: ../shared/data), else one made from the
    verified files of the course's data root (so `make e2e` works after `make data`)."""
    given = os.environ.get("D2L_DATA_MIRROR", "").strip()
    if given and "://" not in given and Path(given).is_dir():
        return Path(given).resolve()
    from d2lutils.data import REGISTRY, data_root, fetch

    folder = scratch / "mirror"
    for name in ("fashion_mnist", "time_machine", "kaggle_house", "airfoil"):
        try:
            source = fetch(name)
        except Exception as err:  # no mirror and no data: say how to get one
            pytest.fail(f"the e2e checks need the course data: run `make data` or set "
                        f"D2L_DATA_MIRROR ({err})")
        for spec in REGISTRY[name].files:
            target = folder / spec.mirror
            target.parent.mkdir(parents=True, exist_ok=True)
            if spec.gzip:
                with open(source / spec.name, "rb") as src, gzip.open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
            else:
                shutil.copyfile(source / spec.name, target)
    assert data_root() != folder
    return folder
