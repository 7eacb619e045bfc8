"""``aiops simulate``: the command line runs a fleet and writes its ground truth."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from streams.cli import app
from tests.simulator.helpers import START_MS


def test_cli_expose_mode_writes_ground_truth(tmp_path) -> None:
    truth = tmp_path / "gt.jsonl"
    result = CliRunner().invoke(app, [
        "simulate", "run", "--clusters", "2", "--mode", "expose", "--port", "0", "--speed", "0",
        "--duration", "2m", "--start", str(START_MS), "--fault", "disk_pressure@+30s/1m",
        "--truth", str(truth), "--seed", "4"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    assert stats["ticks"] == 8 and stats["clusters"] == 2
    rec = json.loads(truth.read_text())
    assert rec["kind"] == "disk_pressure" and rec["start_ts"] == START_MS + 30_000
    assert rec["root_cause_type"] == "NODE"


def test_cli_rejects_a_bad_fault_spec() -> None:
    result = CliRunner().invoke(app, ["simulate", "run", "--mode", "expose", "--fault",
                                      "meltdown@+1m/1m"])
    assert result.exit_code != 0
    assert "unknown fault kind" in result.output


def test_faults_command_lists_the_catalogue() -> None:
    result = CliRunner().invoke(app, ["simulate", "faults"])
    assert result.exit_code == 0
    assert "gpu_xid_error" in result.output and "demo-short" in result.output
