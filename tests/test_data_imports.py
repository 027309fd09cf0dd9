"""Importing d2lutils.data, or running ``python -m d2lutils.data fetch``, stays light.

torchvision, matplotlib, IPython, pooch and requests are imported only when they are used
(the DataLoader path, a plot, a download), never by the import itself. Each check runs in a
fresh interpreter, since this test process has imported everything long ago.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from d2lutils.data import REGISTRY, data_root

HEAVY = ["torchvision", "matplotlib", "IPython", "pooch", "requests"]

_REPORT = "print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"


def _heavy_modules_after(code: str, env: dict | None = None) -> list[str]:
    script = "import json, sys\n" + code + "\n" + _REPORT.format(heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_d2lutils_data_is_light():
    assert _heavy_modules_after("import d2lutils.data") == []


def test_d2lutils_data_own_imports_are_light():
    # the package's __init__ left out, so that only d2lutils.data's own imports count
    code = textwrap.dedent("""
        import importlib.util
        import types
        spec = importlib.util.find_spec("d2lutils")
        stub = types.ModuleType("d2lutils")
        stub.__path__ = list(spec.submodule_search_locations)
        sys.modules["d2lutils"] = stub
        import d2lutils.data
    """)
    assert _heavy_modules_after(code) == []


def test_python_m_d2lutils_data_fetch_is_light(tmp_path, monkeypatch):
    spec = REGISTRY["time_machine"].files[0]
    stored = data_root() / REGISTRY["time_machine"].folder / spec.name
    if not stored.is_file():
        pytest.skip(f"no {stored}: run make test-data")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copyfile(stored, mirror / spec.mirror)
    monkeypatch.setenv("D2L_DATA_DIR", str(tmp_path / "root"))
    monkeypatch.setenv("D2L_DATA_MIRROR", str(mirror))
    code = textwrap.dedent("""
        import runpy
        for argv in (["fetch", "time_machine"], ["fetch", "time_machine"], ["list"]):
            sys.argv = ["python -m d2lutils.data", *argv]
            try:
                runpy.run_module("d2lutils.data", run_name="__main__", alter_sys=True)
            except SystemExit as done:
                assert done.code in (0, None), done.code
    """)
    assert _heavy_modules_after(code, dict(os.environ)) == []
    assert (tmp_path / "root" / "time_machine" / spec.name).read_bytes() == stored.read_bytes()
