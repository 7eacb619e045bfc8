"""Shared helpers for the simulator tests: run one cluster with or without a fault."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.simulator.engine import ClusterSim, TickOutput
from streams.simulator.faults import Fault, parse_spec, resolve_all
from streams.simulator.topology import build_fleet

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
STEP_MS = 15_000


@dataclass
class Run:
    """Ticks of one cluster, with the fault that was injected (if any)."""

    sim: ClusterSim
    ticks: list[TickOutput]
    fault: Fault | None

    def rows(self, name: str, **labels: str) -> list[int]:
        """Value indices of the series ``name`` whose labels include ``labels``."""
        out = []
        for t in self.sim.table.targets:
            for i, (n, lbl) in enumerate(zip(t.names, t.labels, strict=True)):
                if n == name and all(lbl.get(k) == v for k, v in labels.items()):
                    out.append(int(t.rows[i]))
        if not out:
            raise KeyError(f"no series {name}{labels}")
        return out

    def series(self, name: str, **labels: str) -> np.ndarray:
        """Values over time, shape (ticks, matching series)."""
        idx = self.rows(name, **labels)
        return np.array([t.values[idx] for t in self.ticks])

    def ts(self) -> np.ndarray:
        return np.array([t.ts for t in self.ticks])

    def window(self) -> np.ndarray:
        """Mask of ticks inside the fault window."""
        assert self.fault is not None
        ts = self.ts()
        return (ts >= self.fault.start_ts) & (ts < self.fault.end_ts)


def run_pair(spec: str, ticks: int = 40, seed: int = 7, clusters: int = 4) -> tuple[Run, Run]:
    """(with fault, without fault) runs of the cluster the fault lands on, same seed."""
    fleet = build_fleet(clusters, seed)
    faults = resolve_all([parse_spec(spec)], fleet, seed, START_MS)
    fault = faults[0]
    cluster = next(c for c in fleet if c.name == fault.cluster)
    runs = []
    for fs in (faults, []):
        sim = ClusterSim(cluster, seed, START_MS, STEP_MS, fs)
        runs.append(Run(sim, [sim.tick(k) for k in range(ticks)], fault if fs else None))
    runs[1].fault = fault
    return runs[0], runs[1]


def rate(counter: np.ndarray) -> np.ndarray:
    """Per-tick increase of counter columns, a reset counting as the value after it."""
    d = np.diff(counter, axis=0)
    return np.where(d < 0, counter[1:], d)
