"""``python -m d2lutils.data``: fetch datasets, write the CIFAR-10 stand-in, list what is there."""

from __future__ import annotations

import argparse
import sys

from d2lutils.data.registry import REGISTRY
from d2lutils.data.sources import DataError, data_root, fetch, is_standin
from d2lutils.data.standin import write_cifar10_standin


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m d2lutils.data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="fetch and verify datasets (a CIFAR-10 stand-in is replaced)")
    f.add_argument("names", nargs="+", metavar="NAME", help=", ".join(REGISTRY))
    s = sub.add_parser("standin", help="write the CIFAR-10 stand-in unless the real data is there")
    s.add_argument("name", choices=["cifar10"])
    sub.add_parser("list", help="list the datasets and whether they are here")
    args = parser.parse_args(argv)

    try:
        if args.command == "fetch":
            for name in args.names:
                folder = fetch(name, replace_standin=True)
                print(f"{name}: ok ({folder})")
        elif args.command == "standin":
            folder = write_cifar10_standin()
            kind = "stand-in (not CIFAR-10)" if is_standin("cifar10") else "real CIFAR-10, kept"
            print(f"cifar10: {kind} in {folder}")
        else:
            root = data_root()
            print(f"data root: {root}")
            for name, ds in REGISTRY.items():
                here = all((root / ds.folder / f.name).is_file() for f in ds.files)
                state = "stand-in" if here and is_standin(name) else ("here" if here else "missing")
                print(f"  {name:14s} {state:9s} {ds.description}")
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
