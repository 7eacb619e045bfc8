"""The simulation loop: tick every cluster, hand each tick to the emitters, publish the truth.

>>> run = FleetRun.create(clusters=2, seed=3, start_ms=0, step_ms=15_000, speed=0)
>>> stats = run.run(ticks=2)
>>> stats["ticks"], stats["series"] > 1000
(2, True)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from streams.logs_setup import get_logger
from streams.simulator.clock import SimClock
from streams.simulator.emitters.base import Emitter
from streams.simulator.engine import ClusterSim
from streams.simulator.faults import Fault, FaultSpec, resolve_all, write_jsonl
from streams.simulator.topology import Cluster, build_fleet

log = get_logger(__name__)


@dataclass
class FleetRun:
    """A fleet, its faults, its clock and where ticks go."""

    fleet: list[Cluster]
    seed: int
    clock: SimClock
    faults: list[Fault]
    sims: list[ClusterSim]
    emitters: list[Emitter] = field(default_factory=list)
    truth_path: Path | None = None
    _announced: set[str] = field(default_factory=set)

    @classmethod
    def create(cls, *, clusters: int, seed: int, start_ms: int, step_ms: int = 15_000,
               speed: float = 1.0, specs: list[FaultSpec] | None = None, workers: int = 3,
               gpus_per_node: int = 4, traces_per_tick: int = 4, logs_per_tick: int = 40,
               emitters: list[Emitter] | None = None, truth_path: Path | None = None
               ) -> FleetRun:
        """Build the fleet and resolve the fault schedule (relative to ``start_ms``)."""
        fleet = build_fleet(clusters, seed, workers, gpus_per_node)
        faults = resolve_all(specs or [], fleet, seed, start_ms)
        sims = [ClusterSim(c, seed, start_ms, step_ms, faults, traces_per_tick, logs_per_tick)
                for c in fleet]
        return cls(fleet, seed, SimClock(start_ms, step_ms, speed), faults, sims,
                   list(emitters or []), truth_path)

    def _announce(self, ts: int) -> None:
        due = [f for f in self.faults if f.start_ts <= ts and f.fault_id not in self._announced]
        if not due:
            return
        records = [f.record(self.seed) for f in due]
        self._announced.update(f.fault_id for f in due)
        for f in due:
            log.info("fault starts", kind=f.kind, cluster=f.cluster, root_cause=f.root_cause,
                     end_ts=f.end_ts)
        if self.truth_path is not None:
            write_jsonl(self.truth_path, records)
        for e in self.emitters:
            e.add_truth(records)

    def run(self, ticks: int) -> dict[str, float]:
        """Run ``ticks`` ticks; returns counters (wall time, samples ...)."""
        for e in self.emitters:
            e.setup()
        t0 = time.perf_counter()
        series = sum(s.series_count for s in self.sims)
        try:
            for k in range(ticks):
                self.clock.wait_for(k)
                self._announce(self.clock.ts(k))
                for sim in self.sims:
                    out = sim.tick(k)
                    for e in self.emitters:
                        e.add(sim, out, k)
            for e in self.emitters:
                e.flush()
        finally:
            for e in self.emitters:
                e.close()
        wall = time.perf_counter() - t0
        stats: dict[str, float] = {"ticks": ticks, "clusters": len(self.sims), "series": series,
                                   "wall_s": round(wall, 3)}
        for e in self.emitters:
            for key, value in e.stats().items():
                stats[key] = stats.get(key, 0) + value
        return stats
