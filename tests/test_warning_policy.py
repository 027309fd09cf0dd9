"""Deprecations in the course's own code are errors; third-party ones inside their own code
are not (pyproject.toml's filterwarnings), so the oldest supported versions can be tested."""

import warnings

import pytest


def test_a_deprecation_in_our_code_is_an_error():
    with pytest.raises(DeprecationWarning):
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
    with pytest.raises(FutureWarning):
        warnings.warn_explicit("changes soon", FutureWarning, "d2lutils/train/loop.py", 1,
                               module="d2lutils.train.loop")


def test_a_deprecation_inside_a_third_party_package_is_only_a_warning():
    with warnings.catch_warnings(record=True) as caught:  # keeps the filters: an error raises
        warnings.warn_explicit("old API", DeprecationWarning, "pyparsing/core.py", 1,
                               module="pyparsing.core")
    assert [w.category for w in caught] == [DeprecationWarning]
