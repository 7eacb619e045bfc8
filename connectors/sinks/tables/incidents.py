"""aiops.incidents -> ``incidents`` (every version; ReplacingMergeTree keeps the highest)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from connectors.sinks.tables.base import MS, TableFamily, records_table

STRINGS = pa.list_(pa.string())
SPEC = {
    "timestamp": ("updated_ts", MS),
    "opened_ts": ("opened_ts", MS),
    "resolved_ts": ("resolved_ts", MS),
    "incident_id": ("incident_id", pa.string()),
    "cluster": ("cluster", pa.string()),
    "status": ("status", pa.string()),
    "severity": ("severity", pa.string()),
    "title": ("title", pa.string()),
    "anomaly_ids": ("anomaly_ids", STRINGS),
    "alert_fingerprints": ("alert_fingerprints", STRINGS),
    "entities": ("entities", STRINGS),
    "namespaces": ("namespaces", STRINGS),
    "services": ("services", STRINGS),
    "nodes": ("nodes", STRINGS),
    "summary": ("summary", pa.string()),
    "version": ("version", pa.int64()),
}


class IncidentsFamily(TableFamily):
    """Incident versions, one row each."""

    schema = "incident"
    tables = ("incidents",)

    def to_arrow(self, decoded: Sequence[dict[str, Any]]) -> dict[str, pa.Table]:
        return {"incidents": records_table(decoded, SPEC)}
