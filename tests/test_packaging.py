"""The ways to install the course (pip, conda, the notebooks' Colab line) must agree."""

import json
import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the dev extra brings tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": "pytorch"}  # conda-forge spells a few packages differently
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("**/[0-9][0-9]_*.ipynb"))
INSTALL_LINE = re.compile(r'%pip install -q "(d2lutils @ [^"]+)"')


def _name_and_spec(requirement: str) -> tuple[str, str]:
    m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    assert m, requirement
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    """Runtime, lab and dev requirements, without those for older Pythons only (markers)."""
    extras = PROJECT["optional-dependencies"]
    reqs = PROJECT["dependencies"] + extras["lab"] + extras["dev"]
    pairs = (_name_and_spec(r) for r in reqs if ";" not in r)
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


def test_the_course_itself_needs_no_lab_and_no_scipy():
    names = {_name_and_spec(r)[0] for r in PROJECT["dependencies"]}
    assert "jupyterlab" not in names, "JupyterLab belongs in the lab extra (Colab has no use)"
    assert "scipy" not in names, "nothing in d2lutils imports scipy"


def test_every_install_line_names_the_repository_of_pyproject():
    """The Colab cell of every notebook and the README install from PROJECT's Repository."""
    expected = f"d2lutils @ git+{PROJECT['urls']['Repository']}"
    found = {}
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        first = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
        assert '"google.colab" in sys.modules' in first, f"{path.name}: no guarded Colab cell"
        m = INSTALL_LINE.search(first)
        assert m, f"{path.name}: the Colab cell does not match {INSTALL_LINE.pattern}"
        found[path.relative_to(ROOT).as_posix()] = m.group(1)
    assert found, "no notebook found"
    wrong = {name: line for name, line in found.items() if line != expected}
    assert not wrong, f"these notebooks do not install {expected!r}: {wrong}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f'pip install "{expected}"' in readme
