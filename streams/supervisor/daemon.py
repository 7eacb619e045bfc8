"""The supervisor process: starts the components and restarts crashed ones.

Run as ``python -m streams.supervisor --data-dir DIR`` by ``aiops up`` (detached); SIGTERM
stops every component and then the supervisor itself.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from streams.logs_setup import get_logger
from streams.supervisor.process import ManagedProcess, stop_all
from streams.supervisor.spec import ComponentSpec
from streams.supervisor.state import StateFiles, SupervisorState

log = get_logger(__name__)


def load_specs(path: Path) -> tuple[list[ComponentSpec], dict[str, str], str | None]:
    """Specs, skipped components and bootstrap as ``aiops up`` wrote them."""
    raw = json.loads(path.read_text())
    specs = [ComponentSpec(s["name"], tuple(s["argv"]), dict(s["env"]), s["health_url"],
                           s["group"], tuple(s["topics"]), s["rate_metric"], s["rate_unit"])
             for s in raw["specs"]]
    return specs, dict(raw.get("skipped", {})), raw.get("bootstrap")


class Supervisor:
    """Keeps every component running until stopped."""

    def __init__(self, data_dir: Path, sample_s: float = 2.0) -> None:
        self.files = StateFiles(data_dir)
        specs, skipped, bootstrap = load_specs(self.files.specs)
        # Telemetry (Kafka lag probes) runs as a child too: a client crash never takes the
        # supervisor down, and it is restarted like any component.
        specs.append(ComponentSpec("telemetry", (
            sys.executable, "-m", "streams.supervisor.sampler", "--data-dir", str(data_dir),
            "--interval-s", str(sample_s))))
        self.procs = [ManagedProcess(s, self.files.log_of(s.name)) for s in specs]
        self.state = SupervisorState(os.getpid(), time.time(), bootstrap,
                                     {p.spec.name: p.state for p in self.procs}, skipped)
        self.stop_event = threading.Event()

    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop_event.set())
        for p in self.procs:
            p.start()
            log.info("component started", component=p.spec.name, pid=p.state.pid)
        self.files.save(self.state)
        try:
            while not self.stop_event.wait(0.5):
                changed = False
                for p in self.procs:
                    event = p.tick(time.time())
                    if event:
                        changed = True
                        what = "component restarted" if event == "restarted" else "component exited"
                        log.warning(what, component=p.spec.name, detail=event, pid=p.state.pid,
                                    restarts=p.state.restarts)
                if changed:
                    self.files.save(self.state)
        finally:
            log.info("stopping components")
            stop_all(self.procs)
            self.state.pid = None
            self.files.save(self.state)
            log.info("supervisor stopped")
