"""Synthetic MetricBatch / GpuBatch payloads for the detect tests."""

from __future__ import annotations

import numpy as np

from schemas.batches import metric_batch
from schemas.codec import Codec
from schemas.series import series_id

STEP_MS = 15_000


class Targets:
    """``n_targets`` scrape targets with ``per_target`` gauge series each (plus extras)."""

    def __init__(self, n_targets: int, per_target: int, cluster: str = "c1",
                 seed: int = 0) -> None:
        self.cluster = cluster
        self.codec = Codec("metric_batch")
        self.rng = np.random.default_rng(seed)
        self.targets = []
        for t in range(n_targets):
            names = [f"app_latency_{i}" for i in range(per_target)]
            labels = [{"namespace": "shop", "pod": f"pod-{t}", "node": f"node-{t % 3}",
                       "series": str(i)} for i in range(per_target)]
            types = ["GAUGE"] * per_target
            names.append("http_requests_total")
            labels.append({"namespace": "shop", "service": f"svc-{t}", "node": f"node-{t % 3}"})
            types.append("COUNTER")
            ids = [series_id(cluster, n, lb) for n, lb in zip(names, labels, strict=True)]
            self.targets.append((f"target-{t}", names, labels, types, ids))
        self.counter = np.zeros(n_targets)

    def payload(self, t: int, step: int, spike: float | None = None) -> bytes:
        """Scrape ``step`` of target ``t``; ``spike`` replaces series 0's value."""
        target, names, labels, types, ids = self.targets[t]
        n = len(names)
        values = self.rng.normal(100.0, 2.0, n)
        if spike is not None:
            values[0] = spike
        self.counter[t] += 50.0 + self.rng.normal(0, 1.0)
        values[-1] = self.counter[t]
        ts = step * STEP_MS
        return self.codec.encode(metric_batch(
            self.cluster, "test", target, ts, names=names, labels=labels, values=list(values),
            timestamps=[ts] * n, types=types, series_ids=ids))
