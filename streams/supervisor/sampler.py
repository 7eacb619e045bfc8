"""Telemetry sampler (a supervised child): health, lag and throughput every few seconds.

Appends one JSON line per sample to ``<data_dir>/supervisor/telemetry.jsonl``; ``aiops status``,
the demo's live view, the drain wait and the scorecard's plots read it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from streams.logs_setup import configure_logging, get_logger
from streams.settings import get_settings
from streams.supervisor.health import counter_total, probe
from streams.supervisor.state import ComponentState, StateFiles

log = get_logger(__name__)


def pid_alive(pid: int | None, marker: str = "streams.") -> bool:
    """True when ``pid`` runs one of our modules."""
    if not pid:
        return False
    try:
        return marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class Sampler:
    """Health, lag and throughput of every component, appended to the telemetry log."""

    def __init__(self, files: StateFiles, bootstrap: str | None) -> None:
        self.files = files
        self.bootstrap = bootstrap
        self.previous: dict[str, tuple[float, float]] = {}
        self.probe: Any = None

    def _lag_probe(self) -> Any:
        if self.probe is None and self.bootstrap:
            from streams.supervisor.lag import LagProbe

            self.probe = LagProbe(self.bootstrap)
        return self.probe

    def _rate(self, key: str, now: float, value: float | None) -> float | None:
        if value is None:
            return None
        before = self.previous.get(key)
        self.previous[key] = (now, value)
        if before is None or now <= before[0] or value < before[1]:
            return None
        return (value - before[1]) / (now - before[0])

    def sample(self, comps: list[ComponentState]) -> dict[str, Any]:
        now = time.time()
        row: dict[str, Any] = {"ts": round(now, 3), "components": {}}
        for spec in comps:
            alive = pid_alive(spec.pid)
            healthy, body = probe(spec.health_url) if alive else (False, "not running")
            entry: dict[str, Any] = {"alive": alive, "healthy": healthy,
                                     "restarts": spec.restarts}
            if spec.group and self._lag_probe() is not None:
                try:
                    lag = self.probe.measure(spec.group, tuple(spec.topics))
                    entry.update(lag=lag.lag, lag_s=round(lag.lag_s, 3))
                    if not spec.rate_metric:
                        entry["rate"] = self._rate(spec.name, now, float(lag.committed))
                except Exception as exc:  # noqa: BLE001 - a probe failure is reported, not fatal
                    entry["lag_error"] = str(exc)[:200]
            if spec.rate_metric:
                value = counter_total(body, spec.rate_metric) if healthy else None
                entry["rate"] = self._rate(spec.name, now, value)
            row["components"][spec.name] = entry
        self.files.append_telemetry(row)
        return row

    def close(self) -> None:
        if self.probe is not None:
            self.probe.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Sample the pipeline's telemetry.")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--interval-s", type=float, default=2.0)
    args = parser.parse_args()
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    files = StateFiles(args.data_dir)
    sampler = Sampler(files, files.load().bootstrap)
    try:
        while True:
            time.sleep(args.interval_s)
            state = files.load()
            comps = [c for c in state.components.values() if c.name != "telemetry"]
            try:
                sampler.sample(comps)
            except Exception as exc:  # noqa: BLE001 - one failed sample is logged, not fatal
                log.warning("telemetry sample failed", error=str(exc)[:300])
    finally:
        sampler.close()


if __name__ == "__main__":
    main()
