"""aiops.clusters (compacted) -> ``clusters``; a tombstone becomes an ``is_deleted`` row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from connectors.sinks.base import Record
from connectors.sinks.tables.base import MS, STR_MAP, TableFamily, records_table
from schemas.errors import CorruptPayloadError


def _cap(name: str) -> Any:
    return lambda r: r["capabilities"][name]


SPEC = {
    "name": ("name", pa.string()),
    "cluster_id": ("cluster_id", pa.string()),
    "type": ("type", pa.string()),
    "platform": ("platform", pa.string()),
    "version": ("version", pa.string()),
    "region": ("region", pa.string()),
    "environment": ("environment", pa.string()),
    "labels": ("labels", STR_MAP),
    "endpoints": ("endpoints", STR_MAP),
    "gpu_count": (_cap("gpu_count"), pa.int32()),
    "gpu_models": (_cap("gpu_models"), pa.list_(pa.string())),
    **{flag: (_cap(flag), pa.bool_()) for flag in (
        "has_ptp", "has_sriov", "has_dpdk", "has_prometheus", "has_loki", "has_tempo")},
    "status": ("status", pa.string()),
    "health_score": ("health_score", pa.float64()),
    "last_seen": ("last_seen", MS),
    "record_version": ("record_version", pa.int64()),
    "is_deleted": (lambda r: int(r.get("is_deleted", 0)), pa.uint8()),
}

EMPTY_CAPS = {"gpu_count": 0, "gpu_models": [], "has_ptp": False, "has_sriov": False,
              "has_dpdk": False, "has_prometheus": False, "has_loki": False, "has_tempo": False}


def tombstone(name: str, version: int) -> dict[str, Any]:
    """The row that deletes cluster ``name`` (its version: the tombstone's Kafka time)."""
    return {"name": name, "cluster_id": "", "type": "", "platform": "", "version": "",
            "region": "", "environment": "", "labels": {}, "endpoints": {},
            "capabilities": EMPTY_CAPS, "status": "UNKNOWN", "health_score": 0.0,
            "last_seen": version, "record_version": version, "is_deleted": 1}


class ClustersFamily(TableFamily):
    """Cluster registry records; a null value (tombstone) deletes the key's cluster."""

    schema = "cluster_record"
    tables = ("clusters",)

    def decode(self, record: Record) -> Any:
        if record.value is None:
            if not record.key:
                raise CorruptPayloadError("cluster tombstone without a key")
            return tombstone(record.key.decode("utf-8", "replace"), record.timestamp_ms)
        return super().decode(record)

    def to_arrow(self, decoded: Sequence[dict[str, Any]]) -> dict[str, pa.Table]:
        return {"clusters": records_table(decoded, SPEC)}
