"""Request load, latency and errors of a cluster's services, following the call graph.

Traffic has a daily profile (busy afternoon, quiet night, in the cluster's local time). Load
flows from the entry services down the call graph; latency and errors flow back up: a caller's
latency includes its callees' (plus any injected network delay on the edge) and a failing
callee or a lossy edge fails a share of its callers' requests.

>>> daily_profile(np.array([4 * 3600.0, 15 * 3600.0])).round(2).tolist()
[0.42, 1.55]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.simulator.topology import Cluster

DAY_S = 86_400.0
BASE_ERROR = 0.002


def daily_profile(t_s: np.ndarray | float, tz_offset_h: float = 0.0) -> np.ndarray:
    """Relative load at epoch seconds ``t_s``: about 0.42 at 04:00 local, 1.55 at 15:00."""
    hours = ((np.asarray(t_s, dtype=np.float64) / 3600.0 + tz_offset_h) % 24.0)
    return 0.975 + 0.575 * np.cos(2 * np.pi * (hours - 15.0) / 24.0)


@dataclass
class ServiceKnobs:
    """Per-tick fault inputs (reset to neutral every tick, then set by active faults)."""

    lat_mult: np.ndarray
    lat_add_ms: np.ndarray
    err_add: np.ndarray
    edge_delay_ms: np.ndarray
    edge_loss: np.ndarray
    load_mult: np.ndarray


@dataclass
class ServiceFrame:
    """Per-service quantities of one tick."""

    rps: np.ndarray
    latency_s: np.ndarray
    own_latency_s: np.ndarray
    error_ratio: np.ndarray


class ServiceModel:
    """Vectorised over services; loops only over the (small) call graph."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.names = [s.name for s in cluster.services]
        self.index = {n: i for i, n in enumerate(self.names)}
        self.own_ms = np.array([s.own_ms for s in cluster.services])
        self.share = np.array([s.rps_share for s in cluster.services])
        self.edges: list[tuple[int, int, float]] = [
            (self.index[s.name], self.index[callee], calls)
            for s in cluster.services for callee, calls in s.deps
        ]
        called = {c for _, c, _ in self.edges}
        self.roots = [i for i in range(len(self.names)) if i not in called]
        self.order = self._topological()

    def edge_index(self, caller: str, callee: str) -> int:
        for k, (a, b, _) in enumerate(self.edges):
            if self.names[a] == caller and self.names[b] == callee:
                return k
        raise KeyError(f"no call edge {caller} -> {callee}")

    def _topological(self) -> list[int]:
        """Callers before callees."""
        indeg = {i: 0 for i in range(len(self.names))}
        for _, b, _ in self.edges:
            indeg[b] += 1
        ready = [i for i, d in indeg.items() if d == 0]
        order: list[int] = []
        while ready:
            i = ready.pop(0)
            order.append(i)
            for a, b, _ in self.edges:
                if a == i:
                    indeg[b] -= 1
                    if indeg[b] == 0:
                        ready.append(b)
        return order

    def knobs(self) -> ServiceKnobs:
        n, e = len(self.names), len(self.edges)
        return ServiceKnobs(np.ones(n), np.zeros(n), np.zeros(n), np.zeros(e), np.zeros(e),
                            np.ones(n))

    def frame(self, profile: float, noise: np.ndarray, knobs: ServiceKnobs) -> ServiceFrame:
        """Rates, latencies and error ratios; ``noise`` is one normal draw per service."""
        n = len(self.names)
        rps = np.zeros(n)
        for i in self.roots:
            rps[i] = self.cluster.base_rps * self.share[i] * profile
        for i in self.order:
            for a, b, calls in self.edges:
                if a == i:
                    rps[b] += rps[a] * calls
        rps = rps * knobs.load_mult * np.maximum(1.0 + 0.04 * noise, 0.5)
        own = (self.own_ms * knobs.lat_mult + knobs.lat_add_ms) / 1000.0
        own = own * (1.0 + 0.15 * (profile - 1.0))
        lat = own.copy()
        err = np.clip(BASE_ERROR + knobs.err_add, 0.0, 1.0)
        for i in reversed(self.order):
            ok = 1.0 - err[i]
            for k, (a, b, calls) in enumerate(self.edges):
                if a != i:
                    continue
                lat[i] += min(calls, 1.0) * (lat[b] + knobs.edge_delay_ms[k] / 1000.0)
                fail = 1.0 - (1.0 - err[b]) * (1.0 - knobs.edge_loss[k])
                ok *= 1.0 - min(calls, 1.0) * 0.9 * fail
            err[i] = 1.0 - ok
        return ServiceFrame(rps, lat, own, np.clip(err, 0.0, 1.0))
