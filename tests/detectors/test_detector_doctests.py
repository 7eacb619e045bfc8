"""Run the seeded doctest examples of the detector and evaluation modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["base", "ewma", "robust", "levelshift", "seasonal", "cooldown", "novelty", "metric"]


@pytest.mark.parametrize("name", [f"streams.detectors.{m}" for m in MODULES]
                         + ["streams.evaluation.nab"])
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
