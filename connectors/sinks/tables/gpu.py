"""aiops.gpu -> ``gpu``: one row per GPU sample, every DCGM field a nullable column."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import pyarrow as pa

from connectors.sinks.tables.base import TableFamily, ms_array
from schemas.codec import raw_schema

TEXT = ("node", "uuid", "model", "pci_bus_id", "mig_profile", "mig_instance_id", "pod",
        "namespace", "container")


@cache
def dcgm_fields() -> tuple[str, ...]:
    """The GpuSample fields that hold DCGM readings (nullable doubles)."""
    sample = raw_schema("gpu_batch")["fields"]
    items = next(f for f in sample if f["name"] == "samples")["type"]["items"]
    return tuple(f["name"] for f in items["fields"] if f["type"] == ["null", "double"])


class GpuFamily(TableFamily):
    """GpuBatch records, exploded to one row per sample."""

    schema = "gpu_batch"
    tables = ("gpu",)

    def rows(self, decoded: dict[str, Any]) -> int:
        return len(decoded["samples"])

    def to_arrow(self, decoded: Sequence[dict[str, Any]]) -> dict[str, pa.Table]:
        samples = [s for batch in decoded for s in batch["samples"]]
        clusters = [b["cluster"] for b in decoded for _ in b["samples"]]
        sources = [b["source"] for b in decoded for _ in b["samples"]]
        cols: dict[str, pa.Array] = {
            "timestamp": ms_array([s["ts"] for s in samples]),
            "cluster": pa.array(clusters, pa.string()),
            "source": pa.array(sources, pa.string()),
            "gpu": pa.array([s["gpu"] for s in samples], pa.int32()),
        }
        for name in TEXT:
            cols[name] = pa.array([s[name] or "" for s in samples], pa.string())
        for name in dcgm_fields():
            cols[name] = pa.array([s[name] for s in samples], pa.float64())
        cols["extra"] = pa.array([s["extra"] for s in samples],
                                 pa.map_(pa.string(), pa.float64()))
        return {"gpu": pa.table(cols)}
