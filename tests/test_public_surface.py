"""The public surface of d2lutils: each exported name is documented and fully annotated.

What `d2lutils`, `d2lutils.data`, `d2lutils.train` and `d2lutils.plot` export (their
``__all__``) is what notebooks and learners call; `help()` and an editor show them the
docstring and the types. Which names the course uses is checked in test_data_api.py.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = ["d2lutils", "d2lutils.data", "d2lutils.train", "d2lutils.plot"]


def _exported(module_name: str) -> list[tuple[str, object]]:
    module = importlib.import_module(module_name)
    assert hasattr(module, "__all__"), f"{module_name} has no __all__"
    return [(name, getattr(module, name)) for name in module.__all__]


def _problems(qualname: str, fn: object) -> list[str]:
    problems = [] if inspect.getdoc(fn) else [f"{qualname}: no docstring"]
    try:
        signature = inspect.signature(fn)
    except ValueError:  # a class without an __init__ of its own (History is a dict)
        return problems
    for p in signature.parameters.values():
        if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty:
            problems.append(f"{qualname}: parameter {p.name} has no type hint")
    if signature.return_annotation is inspect.Signature.empty and not inspect.isclass(fn):
        problems.append(f"{qualname}: no return type")
    return problems


@pytest.mark.parametrize("module_name", MODULES)
def test_every_exported_name_is_documented_and_annotated(module_name):
    problems = []
    for name, obj in _exported(module_name):
        if inspect.ismodule(obj):
            continue
        assert obj is not None, f"{module_name}.{name} is exported but missing"
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue  # a constant (REGISTRY, CIFAR10_MEAN, ...)
        problems += _problems(f"{module_name}.{name}", obj)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                if inspect.isfunction(member):
                    found = _problems(f"{name}.{attr}", member)
                    problems += [p for p in found if attr != "__init__" or "docstring" not in p]
                elif isinstance(member, property) and not inspect.getdoc(member):
                    problems.append(f"{name}.{attr}: property without a docstring")
    assert problems == []


def test_the_surface_is_the_size_it_was_reviewed_at():
    """A new export is a decision (is it something a notebook or a learner calls?): change
    these counts together with the name, and say why in the commit."""
    sizes = {m: len(_exported(m)) for m in MODULES}
    assert sizes == {"d2lutils": 11, "d2lutils.data": 33, "d2lutils.train": 15,
                     "d2lutils.plot": 6}
