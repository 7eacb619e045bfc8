"""Run the doctest examples of the streams.logs modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["masking", "templates", "preprocess", "novelty", "evaluation", "assignment"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(f"streams.logs.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
