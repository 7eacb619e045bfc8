"""Run the doctest examples of the simulator modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["topology", "clock", "workload", "faults", "fleet"]


@pytest.mark.parametrize("name", [f"streams.simulator.{m}" for m in MODULES])
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
