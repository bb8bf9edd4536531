"""The Examples sections of the public docstrings run as written."""

import doctest
import importlib
import warnings

import pytest

MODULES = [
    "sklearn_multihead._joint.estimator",
    "sklearn_multihead._forest.estimator",
    "sklearn_multihead._dummy",
    "sklearn_multihead.inspection",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a short example's max_iter
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no Examples to run"
