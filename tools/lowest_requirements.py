"""Print the oldest versions that `pyproject.toml` allows, for `make test-lowest`.

``python tools/lowest_requirements.py`` prints one ``name==version`` line for every runtime
dependency, from its ``>=`` lower bound (environment markers kept), so that pip installs
exactly the versions the course promises to support; ``--python`` prints the lowest Python
version of ``requires-python``. The list is derived from ``pyproject.toml`` every time, so a
range is never promised without being tested.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(;.*)?$")


def lower_bound(spec: str) -> str | None:
    """The version of the ``>=`` clause of a specifier such as ``>=2.4,<3``, else None."""
    for clause in spec.split(","):
        clause = clause.strip()
        if clause.startswith(">="):
            return clause[2:].strip()
    return None


def lowest_pins(requirements: list[str]) -> list[str]:
    """``name==lower`` for each requirement (extras and markers kept); refuses unbounded ones."""
    pins = []
    for requirement in requirements:
        m = _REQUIREMENT.match(requirement)
        if not m:
            raise ValueError(f"cannot read the requirement {requirement!r}")
        name, extras, spec, marker = m.groups()
        version = lower_bound(spec)
        if version is None:
            raise ValueError(f"{name} has no lower bound (>=) in pyproject.toml: add one")
        pins.append(f"{name}{extras or ''}=={version}{' ' + marker if marker else ''}")
    return pins


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="store_true", help="print the lowest Python version")
    args = parser.parse_args(argv)
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    if args.python:
        version = lower_bound(project["requires-python"])
        if version is None:
            raise SystemExit("requires-python has no lower bound (>=)")
        print(version)
    else:
        print("\n".join(lowest_pins(project["dependencies"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
