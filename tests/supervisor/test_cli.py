"""``aiops status`` / ``aiops down`` wiring on a data dir where nothing runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _aiops(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    env["AIOPS_DATA_DIR"] = str(tmp_path)
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_status_reports_everything_down_and_fails(tmp_path: Path) -> None:
    proc = _aiops(tmp_path, "status", "--json")
    assert proc.returncode == 1, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert set(rows) == {"kafka", "clickhouse"}
    assert not rows["kafka"]["healthy"] and rows["kafka"]["pid"] is None


def test_down_with_nothing_running_is_clean(tmp_path: Path) -> None:
    proc = _aiops(tmp_path, "down")
    assert proc.returncode == 0, proc.stderr
    assert "stopped: stack" in proc.stdout
