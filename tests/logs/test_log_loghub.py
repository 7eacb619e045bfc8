"""Grouping accuracy on a few Loghub systems (skipped when the shared data set is absent)."""

from __future__ import annotations

import pytest

from streams.logs.evaluation import evaluate_system, grouping_accuracy, loghub_dir
from streams.logs.preprocess import LOGHUB_FORMATS, loghub_parser

FLOORS = {"HDFS": 0.99, "OpenSSH": 0.95, "Proxifier": 0.95}


def test_grouping_accuracy_metric() -> None:
    assert grouping_accuracy(["a", "a", "b"], ["x", "x", "y"]) == 1.0
    assert grouping_accuracy(["a", "a", "b"], ["x", "x", "x"]) == 0.0
    assert grouping_accuracy(["a", "a", "b", "b"], ["x", "y", "z", "z"]) == 0.5


def test_header_formats_parse() -> None:
    assert set(LOGHUB_FORMATS) >= set(FLOORS)
    hdfs = "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating"
    assert loghub_parser("HDFS").content(hdfs) == "PacketResponder 1 terminating"


@pytest.mark.parametrize("system", sorted(FLOORS))
def test_loghub_grouping_accuracy_floor(system: str) -> None:
    if not (loghub_dir() / system / f"{system}_2k.log").is_file():
        pytest.skip(f"Loghub data for {system} not found under {loghub_dir()} "
                    "(set AIOPS_SHARED_DIR to the shared folder)")
    result = evaluate_system(system)
    assert result.accuracy >= FLOORS[system]
