"""``aiops up`` on the real local stack: a component restarted after SIGKILL, status, down."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.supervisor import control
from streams.supervisor.state import StateFiles
from tests.conftest import RunningStack, local_settings

pytestmark = pytest.mark.stack


def _until(pred: Callable[[], object], timeout: float = 60.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_up_restarts_a_killed_component_and_down_stops_everything(
        stack: RunningStack, unique: str) -> None:
    # Same broker and server as the session stack (its data dir), own database and group.
    settings = local_settings(Path(stack.stack.settings.data_dir),
                              clickhouse_database=f"sup_{unique}", sink_group=f"sink-{unique}")
    env = {"AIOPS_SINK_GROUP": f"sink-{unique}"}
    result = control.up(settings, free_ports=True, only={"sink"}, extra_env=env)
    files = StateFiles(settings.data_dir)
    try:
        assert set(result.state.components) == {"sink", "telemetry"}
        assert not control.wait_healthy(settings, timeout=60)
        first = files.load().components["sink"].pid
        assert first
        rows = {r.name: r for r in control.status(settings)}
        assert rows["sink"].healthy and rows["kafka"].healthy and rows["clickhouse"].healthy
        # telemetry reports the sink's consumer-group lag within a few samples
        _until(lambda: any("lag" in r["components"].get("sink", {})
                           for r in files.read_telemetry()))
        os.killpg(first, signal.SIGKILL)
        restarted = _until(lambda: (c := files.load().components["sink"]).restarts >= 1
                           and c.pid not in (None, first) and c.pid)
        assert isinstance(restarted, int)
        assert not control.wait_healthy(settings, timeout=60)
        assert (files.logs / "sink.log").read_text().count("starting") >= 2
    finally:
        stopped = control.down(settings, stack=False)
    assert "supervisor" in stopped
    state = files.load()
    assert state.pid is None
    assert all(c.status == "stopped" for c in state.components.values())
    assert not Path(f"/proc/{restarted}").exists() or \
        "Z" in Path(f"/proc/{restarted}/stat").read_text().split()[2]
    assert stack.stack.status()[0].healthy  # the session's stack is left running
