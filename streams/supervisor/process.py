"""One supervised child process: spawn with its own log, restart with backoff, stop cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from streams.supervisor.spec import ComponentSpec
from streams.supervisor.state import ComponentState

MAX_BACKOFF_S = 30.0
STABLE_S = 60.0  # a run this long resets the backoff


class ManagedProcess:
    """Runs ``spec`` in its own process group; its stdout and stderr go to ``log``."""

    def __init__(self, spec: ComponentSpec, log: Path, base_backoff_s: float = 1.0) -> None:
        self.spec = spec
        self.log = log
        self.base_backoff_s = base_backoff_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.state = ComponentState(spec.name, list(spec.argv), str(log),
                                    health_url=spec.health_url, group=spec.group,
                                    topics=list(spec.topics), rate_metric=spec.rate_metric,
                                    rate_unit=spec.rate_unit)
        self.failures = 0
        self.retry_at = 0.0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} starting "
                      f"{' '.join(self.spec.argv)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(  # noqa: S603 - our own argv
                list(self.spec.argv), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env={**os.environ, **self.spec.env},
                start_new_session=True)
        self.state.pid = self.proc.pid
        self.state.status = "running"
        self.state.started_at = time.time()

    def backoff_s(self) -> float:
        return min(MAX_BACKOFF_S, self.base_backoff_s * 2 ** max(0, self.failures - 1))

    def tick(self, now: float) -> str | None:
        """Reap a crashed child and restart it after its backoff; returns an event or None."""
        if self.state.status == "backoff":
            if now >= self.retry_at:
                self.state.restarts += 1
                self.start()
                return "restarted"
            return None
        if self.proc is None or self.state.status != "running":
            return None
        code = self.proc.poll()
        if code is None:
            return None
        ran = now - (self.state.started_at or now)
        self.failures = 1 if ran >= STABLE_S else self.failures + 1
        self.state.last_exit = code
        self.state.pid = None
        self.state.status = "backoff"
        self.retry_at = now + self.backoff_s()
        return f"exited with {code} after {ran:.1f}s; restart in {self.backoff_s():.1f}s"

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def mark_stopped(self) -> None:
        if self.proc is not None:
            # SIGKILL the whole group: the leader may be gone while a grandchild still runs.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        if self.proc is not None:
            self.state.last_exit = self.proc.poll()
        self.state.pid = None
        self.state.status = "stopped"


def stop_all(procs: list[ManagedProcess], timeout_s: float = 20.0) -> None:
    """SIGTERM every process group, wait, then SIGKILL whatever still runs."""
    for p in procs:
        p.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(p.alive() for p in procs):
        time.sleep(0.1)
    for p in procs:
        p.mark_stopped()
