"""A seeded simulated run: the fleet, a fault schedule shifted past the detectors' warm-up.

The simulated clock starts ``duration`` before now, so the data ends at the present and reads
naturally in the API; ``speed`` compresses it (20 = twenty simulated seconds per second).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.simulator.clock import aligned_now_ms, parse_duration
from streams.simulator.emitters.direct import DirectEmitter
from streams.simulator.faults import FaultSpec, load_schedule
from streams.simulator.fleet import FleetRun


@dataclass
class Scenario:
    """What to simulate."""

    clusters: int = 4
    seed: int = 42
    schedule: str = "demo-short"
    warmup: str = "6m"  # fault-free time first, so the detectors learn their baselines
    tail: str = "4m"  # fault-free time after the last fault ends
    step: str = "15s"
    speed: float = 20.0
    workers: int = 3
    traces_per_tick: int = 4
    logs_per_tick: int = 40

    def specs(self) -> list[FaultSpec]:
        shift = parse_duration(self.warmup)
        return [FaultSpec(s.kind, s.start_ms + shift, s.duration_ms, dict(s.options))
                for s in load_schedule(self.schedule)]

    def duration_ms(self) -> int:
        specs = self.specs()
        last = max((s.start_ms + s.duration_ms for s in specs), default=parse_duration(
            self.warmup))
        return last + parse_duration(self.tail)


@dataclass
class ScenarioRun:
    """A scenario running in a background thread; counters readable while it runs."""

    scenario: Scenario
    bootstrap: str
    truth: Path
    start_ms: int = 0
    end_ms: int = 0
    emitter: DirectEmitter | None = None
    fleet: FleetRun | None = None
    stats: dict[str, float] = field(default_factory=dict)
    error: BaseException | None = None
    started_wall: float = 0.0
    thread: threading.Thread | None = None

    def start(self) -> ScenarioRun:
        sc = self.scenario
        step_ms, duration_ms = parse_duration(sc.step), sc.duration_ms()
        self.start_ms = aligned_now_ms(step_ms) - duration_ms
        self.end_ms = self.start_ms + duration_ms
        self.truth.unlink(missing_ok=True)
        self.emitter = DirectEmitter(self.bootstrap)
        self.fleet = FleetRun.create(
            clusters=sc.clusters, seed=sc.seed, start_ms=self.start_ms, step_ms=step_ms,
            speed=sc.speed, specs=sc.specs(), workers=sc.workers,
            traces_per_tick=sc.traces_per_tick, logs_per_tick=sc.logs_per_tick,
            emitters=[self.emitter], truth_path=self.truth)
        ticks = max(1, duration_ms // step_ms)
        self.started_wall = time.monotonic()
        self.thread = threading.Thread(target=self._run, args=(ticks,), name="simulator",
                                       daemon=True)
        self.thread.start()
        return self

    def _run(self, ticks: int) -> None:
        assert self.fleet is not None
        try:
            self.stats = self.fleet.run(ticks)
        except BaseException as exc:  # noqa: BLE001 - surfaced by join()
            self.error = exc

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def counts(self) -> dict[str, Any]:
        return dict(self.emitter.counts) if self.emitter is not None else {}

    def join(self) -> dict[str, float]:
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise RuntimeError(f"simulator failed: {self.error}") from self.error
        return self.stats
