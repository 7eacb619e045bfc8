"""Histogram buckets -> p50/p95/p99 series (Prometheus ``histogram_quantile`` semantics).

Bucket series (``<base>_bucket`` with an ``le`` label) are cumulative counters; the metric
stage turns them into per-bucket rates.  Buckets of one histogram scraped at one instant are
grouped here, and each quantile is interpolated linearly inside the bucket that holds its
rank (the upper bound of the last finite bucket when the rank falls in ``+Inf``).  The
quantiles are published as a MetricBatch (source ``histograms``; name ``<base>``, label
``quantile``) back onto ``aiops.metrics``: stored by the sink, detected as gauges.

>>> h = HistogramQuantiles()
>>> for slot, le in enumerate(("0.1", "0.5", "1", "+Inf")):
...     h.register(slot, "c1", "rt_seconds_bucket", {"job": "api", "le": le})
>>> b = h.quantiles(np.arange(4), np.array([50.0, 90.0, 100.0, 100.0]), np.full(4, 1000))
>>> [round(v, 3) for v in b[0]["values"]]
[0.1, 0.75, 0.95]
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from schemas.batches import metric_batch

QUANTILES = (0.5, 0.95, 0.99)


def is_bucket(name: str, labels: dict[str, str]) -> bool:
    return name.endswith("_bucket") and "le" in labels


def quantile(q: float, les: np.ndarray, cum: np.ndarray) -> float:
    """``histogram_quantile(q)`` of cumulative bucket counts ``cum`` at upper bounds ``les``."""
    total = cum[-1]
    if not np.isfinite(total) or total <= 0 or not np.isinf(les[-1]):
        return float("nan")
    rank = q * total
    i = int(np.searchsorted(cum, rank, side="left"))
    if i >= len(les) - 1:
        return float(les[-2]) if len(les) > 1 else float("nan")
    lo_le = les[i - 1] if i > 0 else 0.0
    lo_cum = cum[i - 1] if i > 0 else 0.0
    width = cum[i] - lo_cum
    if width <= 0:
        return float(les[i])
    return float(lo_le + (les[i] - lo_le) * (rank - lo_cum) / width)


class HistogramQuantiles:
    """Bucket slot -> (histogram group, upper bound) and the group identities."""

    def __init__(self) -> None:
        self.slots: dict[int, tuple[int, float]] = {}
        self.groups: list[tuple[str, str, dict[str, str]]] = []  # (cluster, base, labels)
        self.group_index: dict[tuple[str, str, tuple], int] = {}

    def register(self, slot: int, cluster: str, name: str, labels: dict[str, str]) -> None:
        base = name[: -len("_bucket")]
        rest = {k: v for k, v in labels.items() if k != "le"}
        key = (cluster, base, tuple(sorted(rest.items())))
        g = self.group_index.get(key)
        if g is None:
            g = self.group_index[key] = len(self.groups)
            self.groups.append((cluster, base, rest))
        try:
            le = float(labels["le"])  # "+Inf" parses as inf
        except ValueError:
            return
        self.slots[int(slot)] = (g, le)

    def forget(self, slots: list[int]) -> None:
        for s in slots:
            self.slots.pop(int(s), None)

    def quantiles(self, slots: np.ndarray, rates: np.ndarray, ts: np.ndarray
                  ) -> list[dict[str, Any]]:
        """MetricBatch records (one per cluster) of the quantiles of complete groups."""
        by_group: dict[tuple[int, int], list[tuple[float, float]]] = {}
        for s, r, t in zip(slots.tolist(), rates.tolist(), ts.tolist(), strict=True):
            meta = self.slots.get(s)
            if meta is not None and r == r:
                by_group.setdefault((meta[0], t), []).append((meta[1], r))
        per_cluster: dict[str, dict[str, list]] = {}
        for (g, t), pairs in by_group.items():
            pairs.sort()
            les = np.array([p[0] for p in pairs])
            cum = np.maximum.accumulate(np.array([p[1] for p in pairs]))
            cluster, base, labels = self.groups[g]
            out = per_cluster.setdefault(cluster, {"names": [], "labels": [], "values": [],
                                                   "timestamps": []})
            for q in QUANTILES:
                v = quantile(q, les, cum)
                if v == v:
                    out["names"].append(base)
                    out["labels"].append({**labels, "quantile": f"{q:g}"})
                    out["values"].append(v)
                    out["timestamps"].append(int(t))
        return [metric_batch(c, "histograms", "histograms", max(cols["timestamps"]),
                             types=["GAUGE"] * len(cols["names"]), batch_id=uuid.uuid4().hex,
                             **cols)
                for c, cols in per_cluster.items() if cols["names"]]

    def state(self) -> dict[str, Any]:
        return {"slots": [[s, g, le] for s, (g, le) in self.slots.items()],
                "groups": [[c, b, lb] for c, b, lb in self.groups]}

    def load(self, state: dict[str, Any]) -> None:
        self.groups = [(c, b, dict(lb)) for c, b, lb in state.get("groups", [])]
        self.group_index = {(c, b, tuple(sorted(lb.items()))): i
                            for i, (c, b, lb) in enumerate(self.groups)}
        self.slots = {int(s): (int(g), float(le)) for s, g, le in state.get("slots", [])}
