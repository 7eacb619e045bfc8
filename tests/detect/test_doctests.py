"""Run the doctest examples of the detect modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["columnar", "registry", "subset", "counters", "cooldown", "classify", "anomalies",
           "rules_cnf", "rules_gpu", "traces", "logs", "histograms", "entity_models",
           "ptp_ports", "silence"]


@pytest.mark.parametrize("name", [f"streams.detect.{m}" for m in MODULES])
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
