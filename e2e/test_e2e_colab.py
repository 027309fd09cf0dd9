"""The course as a learner outside this repository gets it (Colab, a fresh laptop).

1. A wheel of d2lutils goes into a FRESH virtual environment outside the repository, with
   its dependencies from the package index, as pip resolves them for a learner. Before it,
   the environment gets what Colab ships preinstalled: a Jupyter kernel and nbconvert always,
   and COLAB_PREINSTALL (PyTorch by default; empty resolves it from the index, several GB).
2. 00_setup and 01_tensors, copied alone into an empty folder, run there top to bottom with
   D2L_DATA_DIR unset: the data must land in the per-user cache folder (platformdirs, under
   XDG_CACHE_HOME), fetched and verified from D2L_DATA_MIRROR.
3. The notebooks' own Colab cell, ``%pip install -q "d2lutils @ git+https://..."``, runs in
   a kernel that believes it is in Colab, with only the URL replaced by a local clone of
   this repository: the requirement string and the package metadata must really install
   the course, and the notebook must then run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import (
    NOTEBOOKS,
    REPO,
    clean_env,
    errors_in,
    python_of,
    read_notebook,
    run,
    stopwatch,
    stream_text,
)

from d2lutils.data import REGISTRY
from d2lutils.data.verify import check_file


def _repository() -> str:
    """The Repository URL of pyproject.toml's [project.urls], as the installed course has it."""
    from importlib.metadata import metadata

    urls = dict(u.split(", ", 1) for u in metadata("d2lutils").get_all("Project-URL") or [])
    return urls["Repository"]


COLAB_URL = f"git+{_repository()}"  # set in one place: pyproject.toml
INSTALL_LINE = re.compile(r'%pip install -q "(d2lutils @ (git\+[^"\s]+))"')
SETUP_DATASETS = ("fashion_mnist", "time_machine", "kaggle_house", "airfoil")
FAKE_COLAB = 'import sys, types\nsys.modules["google.colab"] = types.ModuleType("google.colab")\n'


def _working_tree_copy(dest: Path) -> Path:
    """The files git would commit (tracked and untracked-but-not-ignored), copied to `dest`."""
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def fresh(scratch, build_dir):
    """A fresh virtual environment with the course installed from its wheel."""
    wheels = build_dir / "dist"
    shutil.rmtree(wheels, ignore_errors=True)
    with stopwatch("colab: build the wheel"):
        source = _working_tree_copy(scratch / "source")
        run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, source],
            timeout=300)
    (wheel,) = wheels.glob("d2lutils-*.whl")
    venv = scratch / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    env = clean_env(HOME=scratch / "pip-home")
    with stopwatch("colab: create the fresh venv"):
        run([base, "-m", "venv", venv], timeout=120, env=env)
    # Colab's runtime always has a Jupyter kernel and an executor; the course does not depend
    # on them (a learner's notebook front end brings its own), so they go in first, as there.
    preinstall = ["ipykernel", "nbconvert", *os.environ.get("COLAB_PREINSTALL", "").split()]
    with stopwatch(f"colab: preinstall {' '.join(preinstall)}"):
        # --no-compile: the preinstalled packages are not under test, and byte-compiling all of
        # PyTorch's files takes about 40 s; the learner's kernels (whose environment does not
        # forbid bytecode) compile and keep what they import
        run([python_of(venv), "-m", "pip", "install", "-q", "--no-compile", *preinstall],
            timeout=900, env=env)
    with stopwatch("colab: pip install the wheel and its dependencies"):
        run([python_of(venv), "-m", "pip", "install", "-q", wheel], timeout=900, env=env)
    return venv


def _execute(venv: Path, notebook: Path, out_dir: Path, env: dict) -> Path:
    """Execute `notebook` in its own folder with the venv's Jupyter; return the result."""
    out_dir.mkdir(parents=True, exist_ok=True)
    run([python_of(venv), "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=600", "--ExecutePreprocessor.allow_errors=True",
         "--output-dir", out_dir, notebook], timeout=900, cwd=notebook.parent, env=env)
    return out_dir / notebook.name


def _learner(scratch: Path, name: str, mirror: Path, venv: Path, **extra) -> tuple[Path, dict]:
    """An empty folder for the notebooks and a learner's environment (own HOME and cache)."""
    home = scratch / name
    folder = home / "content"  # Colab's working folder
    folder.mkdir(parents=True)
    env = clean_env(venv, HOME=home, XDG_CACHE_HOME=home / ".cache",
                    IPYTHONDIR=home / ".ipython", D2L_DATA_MIRROR=mirror, D2L_QUICK="1",
                    OMP_NUM_THREADS="1", **extra)
    assert "D2L_DATA_DIR" not in env
    return folder, env


def _check_data_in_user_cache(env: dict, executed_setup: Path) -> Path:
    cache_root = Path(env["XDG_CACHE_HOME"]) / "d2lutils" / "data"
    nb = read_notebook(executed_setup)
    printed = "".join(stream_text(c) for c in nb.cells)
    assert f"data root: {cache_root}\n" in printed, printed[:2000]
    for name in SETUP_DATASETS:
        ds = REGISTRY[name]
        for spec in ds.files:
            path = cache_root / ds.folder / spec.name
            assert path.is_file(), f"{path} was not fetched"
            assert check_file(path, spec.checksum) is None, f"{path} is not the right file"
    return cache_root


def _module_file(venv: Path, env: dict, cwd: Path) -> str:
    code = "import d2lutils; print(d2lutils.__file__)"
    return run([python_of(venv), "-c", code], timeout=120, env=env, cwd=cwd).stdout.strip()


def test_wheel_in_a_fresh_venv_runs_the_first_notebooks(fresh, scratch, mirror, build_dir):
    folder, env = _learner(scratch, "learner-wheel", mirror, fresh)
    names = ["00_setup.ipynb", "01_tensors.ipynb"]
    for name in names:
        shutil.copyfile(NOTEBOOKS / name, folder / name)
    out = build_dir / "colab-wheel"
    shutil.rmtree(out, ignore_errors=True)

    for name in names:
        with stopwatch(f"colab: execute {name} (wheel install, quick mode)"):
            executed = _execute(fresh, folder / name, out, env)
        assert errors_in(read_notebook(executed)) == [], f"{name} failed in the fresh venv"

    _check_data_in_user_cache(env, out / "00_setup.ipynb")
    assert sorted(p.name for p in folder.iterdir()) == names, "files written next to notebooks"
    where = _module_file(fresh, env, folder)
    assert where.startswith(str(fresh)), f"d2lutils came from {where}, not the fresh venv"
    setup = read_notebook(out / "00_setup.ipynb")
    assert "device: cpu | quick mode: True" in stream_text(setup.cells[1])


def test_the_colab_install_cell_installs_the_course(fresh, scratch, mirror, build_dir):
    # every notebook names the same requirement, the one the README gives
    found = {}
    for path in sorted(NOTEBOOKS.glob("**/[0-9][0-9]_*.ipynb")):
        first = next(c for c in read_notebook(path).cells if c.cell_type == "code")
        if '"google.colab" in sys.modules' in first.source:
            m = INSTALL_LINE.search(first.source)
            assert m, f"{path.name}: the Colab cell does not match {INSTALL_LINE.pattern}"
            found[path.name] = m.group(1)
    assert found and set(found.values()) == {f"d2lutils @ {COLAB_URL}"}, found
    assert f'pip install "d2lutils @ {COLAB_URL}"' in (REPO / "README.md").read_text()

    # a clone of the repository stands in for GitHub; pip before 23.3 (the one a new venv of
    # Python 3.11 brings) rejects git+file:/// with an empty host, so the host is spelt out
    clone = scratch / "clone"
    run(["git", "clone", "--quiet", "--no-hardlinks", REPO, clone], timeout=120)
    head = run(["git", "rev-parse", "HEAD"], cwd=clone, timeout=60).stdout.strip()
    local_url = f"git+file://localhost{clone}"

    run([python_of(fresh), "-m", "pip", "uninstall", "-y", "-q", "d2lutils"], timeout=120,
        env=clean_env(fresh))
    folder, env = _learner(scratch, "learner-colab", mirror, fresh)
    startup = Path(env["IPYTHONDIR"]) / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-pretend-colab.py").write_text(FAKE_COLAB)
    text = (NOTEBOOKS / "00_setup.ipynb").read_text(encoding="utf-8")
    assert text.count(COLAB_URL) == 1
    (folder / "00_setup.ipynb").write_text(text.replace(COLAB_URL, local_url), encoding="utf-8")
    out = build_dir / "colab-git"
    shutil.rmtree(out, ignore_errors=True)

    with stopwatch("colab: execute 00_setup.ipynb with its %pip install cell (git clone)"):
        executed = _execute(fresh, folder / "00_setup.ipynb", out, env)

    nb = read_notebook(executed)
    assert errors_in(nb) == [], "00_setup failed after its own install cell"
    install_output = stream_text(nb.cells[1])
    assert "ERROR" not in install_output, install_output
    assert "Note: you may need to restart the kernel" in install_output  # the %pip line ran
    where = _module_file(fresh, env, folder)
    assert where.startswith(str(fresh)), where
    site = Path(where).parent.parent
    (dist_info,) = site.glob("d2lutils-*.dist-info")
    direct = json.loads((dist_info / "direct_url.json").read_text())
    assert direct["url"] == local_url.removeprefix("git+")
    assert direct["vcs_info"] == {"vcs": "git", "commit_id": head}
    _check_data_in_user_cache(env, executed)
