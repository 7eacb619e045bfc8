"""Run the doctest examples of the notifier modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["connectors.notify.notification", "connectors.notify.signing",
           "connectors.notify.routing", "connectors.notify.delivery",
           "streams.notify.schedule"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
