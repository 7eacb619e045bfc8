"""Run the doctest examples of the collector and publisher modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "connectors.sources.exposition", "connectors.sources.config",
    "connectors.sources.discovery", "connectors.sources.prometheus", "connectors.sources.dcgm",
    "connectors.sources.cnf", "connectors.publish.spool", "connectors.publish.columnar",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
