"""The HTML report and the JSONL truth reader (no stack needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from streams.scorecard.html import render
from streams.scorecard.matching import score
from streams.scorecard.model import Cause, Fault, Incident, Report
from streams.scorecard.pipeline import figures, percentile
from streams.scorecard.sources import faults_from_jsonl

T0 = 1_700_000_000_000
MIN = 60_000


def _faults() -> list[Fault]:
    return [Fault("a", "cpu_saturation", "hub-000", T0 + 10 * MIN, T0 + 14 * MIN, "POD",
                  "boutique/checkout-1"),
            Fault("b", "ptp_freerun", "edge-002", T0 + 12 * MIN, T0 + 16 * MIN, "PTP_CLOCK",
                  "sno-0/ens1f0")]


def test_html_is_self_contained_with_timeline_and_charts() -> None:
    incs = [Incident("i1", "hub-000", T0 + 11 * MIN, "CPU <throttled>"),
            Incident("x", "hub-000", T0 + 40 * MIN, "noise")]
    reps = [Report("i1", T0, (Cause(1, "POD", "boutique/checkout-1"),))]
    card = score(_faults(), incs, reps, {"hub-000": (T0, T0 + 60 * MIN)})
    telemetry = [{"ts": 100.0 + i, "components": {"sink": {"lag_s": i * 0.5, "rate": 1000.0},
                                                  "detect": {"lag_s": 0.1, "rate": 900.0}}}
                 for i in range(10)]
    card.pipeline = figures(telemetry, samples_produced=1000, rows_stored=990, dead_letters=2,
                            wall_s=10.0)
    page = render(card, _faults(), incs, telemetry)
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(svgs) == 3  # timeline, lag, throughput
    for svg in svgs:
        ElementTree.fromstring(svg)  # well-formed
    assert svgs[1].count("<polyline") == 2  # one line per component
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "CPU &lt;throttled&gt;" in page  # escaped
    assert "(missed)" in page  # the PTP fault had no incident
    assert "false incident: noise" in page
    assert card.pipeline.rows_lost == 10 and card.pipeline.samples_per_s == 99.0
    assert card.pipeline.lag_p99_s == 4.5
    assert card.pipeline.lag_p99_s_by_component == {"detect": 0.1, "sink": 4.5}


def test_percentile_nearest_rank() -> None:
    assert percentile([], 99) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile(list(map(float, range(1, 101))), 99) == 99.0


def test_truth_jsonl_is_read_and_deduplicated(tmp_path: Path) -> None:
    rec = {"fault_id": "f1", "kind": "ptp_freerun", "cluster": "edge-002", "start_ts": 1,
           "end_ts": 2, "root_cause_type": "PTP_CLOCK", "root_cause": "sno-0/ens1f0",
           "affected": ["PTP_CLOCK:sno-0/ens1f0"], "parameters": {}, "signals": [], "seed": 1}
    path = tmp_path / "truth.jsonl"
    path.write_text(json.dumps(rec) + "\n" + json.dumps(rec) + "\n\n")
    faults = faults_from_jsonl(path)
    assert len(faults) == 1 and faults[0].affected == ("PTP_CLOCK:sno-0/ens1f0",)
    path.write_text('{"kind": "x"}\n')
    with pytest.raises(ValueError, match="truth.jsonl:1"):
        faults_from_jsonl(path)
