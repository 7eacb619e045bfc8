"""Builders for the columnar batch records (dicts ready for the codec).

>>> b = metric_batch("c1", "simulator", "node-1", 1000, names=["up"], labels=[{"job": "x"}],
...                  values=[1.0], timestamps=[1000], types=["GAUGE"])
>>> len(b["series_ids"]) == 1 and b["cluster"] == "c1"
True
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from schemas.series import series_id


def metric_batch(
    cluster: str,
    source: str,
    target: str,
    scrape_ts: int,
    *,
    names: Sequence[str],
    labels: Sequence[dict[str, str]],
    values: Sequence[float],
    timestamps: Sequence[int],
    types: Sequence[str],
    series_ids: Sequence[int] | None = None,
    batch_id: str | None = None,
) -> dict:
    """A MetricBatch; series ids are computed unless given (they must match)."""
    n = len(names)
    if not (len(labels) == len(values) == len(timestamps) == len(types) == n):
        raise ValueError("metric_batch columns must have equal lengths")
    ids = (
        list(series_ids)
        if series_ids is not None
        else [series_id(cluster, name, lbl) for name, lbl in zip(names, labels, strict=True)]
    )
    return {
        "batch_id": batch_id or uuid.uuid4().hex,
        "cluster": cluster,
        "source": source,
        "target": target,
        "scrape_ts": int(scrape_ts),
        "timestamps": list(timestamps),
        "series_ids": ids,
        "names": list(names),
        "labels": list(labels),
        "values": list(values),
        "types": list(types),
    }
