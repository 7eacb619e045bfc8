"""ManagedProcess: own log, restart with backoff after a crash, clean stop of the group."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from streams.supervisor.process import ManagedProcess, stop_all
from streams.supervisor.spec import ComponentSpec


def _spec(name: str, code: str) -> ComponentSpec:
    return ComponentSpec(name, (sys.executable, "-c", code), {"DEMO_VALUE": "42"})


def _until(pred, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_crashing_child_is_restarted_with_growing_backoff(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "crasher.log"
    p = ManagedProcess(_spec("crasher", "import os,sys; print('env', os.environ['DEMO_VALUE']);"
                                        " sys.exit(3)"), log, base_backoff_s=0.2)
    p.start()
    first_pid = p.state.pid
    events: list[str] = []
    assert _until(lambda: bool(events.append(p.tick(time.time()) or "") or p.state.restarts >= 2))
    assert p.state.last_exit == 3
    assert p.state.pid != first_pid
    assert p.backoff_s() > 0.2  # doubled after consecutive quick crashes
    assert any(e.startswith("exited with 3") for e in events)
    stop_all([p], timeout_s=5)
    text = log.read_text()
    assert text.count("starting") >= 3 and "env 42" in text


def test_stop_all_terminates_the_whole_process_group(tmp_path: Path) -> None:
    # The child starts a grandchild that ignores nothing; both must be gone after stop_all.
    code = ("import subprocess,sys,time; g=subprocess.Popen([sys.executable,'-c',"
            "'import time; time.sleep(600)']); print('GCPID', g.pid, flush=True); "
            "time.sleep(600)")
    p = ManagedProcess(_spec("parent", code), tmp_path / "parent.log")
    p.start()
    assert _until(lambda: "GCPID " in (tmp_path / "parent.log").read_text())
    grandchild = int((tmp_path / "parent.log").read_text().rsplit("GCPID ", 1)[1].split()[0])
    assert p.tick(time.time()) is None  # still running: no event
    stop_all([p], timeout_s=5)
    assert p.state.status == "stopped" and p.state.pid is None
    assert _until(lambda: not Path(f"/proc/{grandchild}").exists()
                  or "Z" in Path(f"/proc/{grandchild}/stat").read_text().split()[2])


def test_a_long_run_resets_the_backoff(tmp_path: Path) -> None:
    p = ManagedProcess(_spec("once", "import sys; sys.exit(1)"), tmp_path / "once.log",
                       base_backoff_s=1.0)
    p.failures = 4
    p.start()
    assert p.proc is not None
    p.proc.wait()
    assert p.state.started_at is not None
    event = p.tick(p.state.started_at + 120)  # pretend it ran two minutes
    assert event is not None and p.failures == 1 and p.backoff_s() == 1.0
    stop_all([p], timeout_s=2)
