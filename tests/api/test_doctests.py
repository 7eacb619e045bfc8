"""Run the doctest examples of the API modules (matchers, buckets, state rules ...)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["api.auth.principal", "api.auth.tokenreview", "api.ratelimit", "api.registry",
           "api.queries.sql", "api.queries.metrics", "api.queries.traces", "api.queries.routing"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
