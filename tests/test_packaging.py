"""The two ways to install the course (pip and conda) must describe the same environment."""

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the course also runs on 3.10

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": "pytorch"}  # conda-forge spells a few packages differently


def _name_and_spec(requirement: str) -> tuple[str, str]:
    m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    assert m, requirement
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = meta["dependencies"] + meta["optional-dependencies"]["dev"]
    pairs = (_name_and_spec(r) for r in reqs)
    return {CONDA_NAMES.get(n, n): spec for n, spec in pairs}


def conda_requirements() -> dict[str, str]:
    deps = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        m = re.match(r"\s*-\s+([A-Za-z][^\s#]*)\s*$", line)
        if m and not line.strip().startswith("- -e"):
            name, spec = _name_and_spec(m.group(1))
            deps[name] = spec
    for tool in ("python", "pip"):
        deps.pop(tool, None)
    return deps


def test_conda_and_pip_name_the_same_packages_with_the_same_ranges():
    assert conda_requirements() == pyproject_requirements()


def test_dependencies_are_ranges_not_pins():
    for name, spec in pyproject_requirements().items():
        assert "==" not in spec, f"{name} is pinned ({spec}); declare a range"
        assert spec.startswith(">="), f"{name} has no lower bound"
