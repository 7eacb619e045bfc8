"""The CI end-to-end test: a short seeded demo on a private real stack, scored.

It runs ``python -m streams.demo`` (``aiops up`` with every registered component, the simulator
with the ``demo-short`` schedule at accelerated time, drain, scorecard) and asserts the
scorecard. A pipeline component that is missing from the build FAILS the test: the issue's
main job needs all of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.simulator.faults import SCHEDULES

pytestmark = pytest.mark.stack

REPO = Path(__file__).resolve().parents[2]
REQUIRED = ("sink", "detect", "correlate", "rca")


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    env.update(AIOPS_DATA_DIR=str(data_dir), AIOPS_KAFKA_PORT="0",
               AIOPS_CLICKHOUSE_HTTP_PORT="0", AIOPS_CLICKHOUSE_TCP_PORT="0",
               AIOPS_KAFKA_HEAP="512m", AIOPS_LOG_LEVEL="WARNING")
    if os.environ.get("AIOPS_CACHE_DIR"):
        env["AIOPS_CACHE_DIR"] = os.environ["AIOPS_CACHE_DIR"]
    return env


@pytest.fixture(scope="module")
def demo_card(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the short seeded demo once for this module; return its scorecard (+ the HTML)."""
    tmp_path = tmp_path_factory.mktemp("demo")
    env = _env(tmp_path / "data")
    cmd = [sys.executable, "-m", "streams.demo", "--free-ports", "--no-live", "--json",
           "--down", "--clusters", "4", "--seed", "7", "--schedule", "demo-short",
           "--speed", "30", "--drain-timeout", "90", "--html", str(tmp_path / "card.html")]
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=420, check=False)
    finally:  # whatever happened, nothing it started may outlive the test
        subprocess.run([sys.executable, "-m", "streams.cli", "down"], cwd=REPO, env=env,
                       capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    card = json.loads(proc.stdout.strip().splitlines()[-1])
    card["_html"] = (tmp_path / "card.html").read_text()
    return card


def _per_fault(card: dict) -> list[dict]:
    return [{k: f[k] for k in ("kind", "cluster", "root_cause", "anomalies", "detected",
                               "detected_by_anomaly", "cause_rank", "top_cause")}
            for f in card["per_fault"]]


def test_short_seeded_demo_detects_every_fault_without_loss(demo_card: dict) -> None:
    card = demo_card
    missing = [c for c in REQUIRED if c not in card["components"]]
    assert not missing, f"pipeline components missing from this build: {card['skipped']}"

    problems = []
    if not card["drained"]:
        problems.append("the pipeline did not catch up after the run")
    if not card["samples_produced"] or card["samples_produced"] < 100_000:
        problems.append(f"too few samples produced: {card['samples_produced']}")
    if card["rows_lost"] != 0:
        problems.append(f"rows in ClickHouse differ from samples produced: {card['rows_lost']}")
    if card["dead_letters"] != 0:
        problems.append(f"{card['dead_letters']} dead letters for valid input")
    kinds = {spec.split("@")[0] for spec in SCHEDULES["demo-short"]}
    if set(card["by_kind"]) != kinds:
        problems.append(f"fault kinds injected {sorted(card['by_kind'])} != {sorted(kinds)}")
    # Detected through the pipeline's anomalies: an incident holding only the alert the
    # simulated fleet raised itself does not count.
    undetected = [k for k, v in card["by_kind"].items() if v["detected_by_anomaly"] == 0]
    if undetected:
        problems.append(f"fault kinds never detected through anomalies: {undetected}")
    html = card["_html"]
    if "<svg" not in html or "Injected faults" not in html:
        problems.append("the HTML report lacks its plots")
    assert not problems, "; ".join(problems) + f"\nper fault: {_per_fault(card)}"


def test_short_seeded_demo_names_the_root_cause_in_the_top_3(demo_card: dict) -> None:
    # "most": more than half of the injected faults have their true root cause (the
    # scorecard's matching rules) among the three best-ranked causes of their incidents.
    top3 = demo_card["top3_ratio"]
    assert top3 is not None and top3 > 0.5, (
        f"top-3 root cause right for {top3} of faults (need > 0.5)\n"
        f"per fault: {_per_fault(demo_card)}")
