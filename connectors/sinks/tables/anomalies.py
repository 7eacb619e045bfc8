"""aiops.anomalies -> ``anomalies``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from connectors.sinks.tables.base import MS, STR_MAP, TableFamily, records_table

SPEC = {
    "timestamp": ("sample_ts", MS),
    "start_ts": ("start_ts", MS),
    "detected_ts": ("detected_ts", MS),
    "anomaly_id": ("anomaly_id", pa.string()),
    "cluster": ("cluster", pa.string()),
    "entity_type": ("entity_type", pa.string()),
    "entity": ("entity", pa.string()),
    "name": ("name", pa.string()),
    "labels": ("labels", STR_MAP),
    "series_id": ("series_id", pa.int64()),
    "type": ("type", pa.string()),
    "actual": ("actual", pa.float64()),
    "expected": ("expected", pa.float64()),
    "lower": ("lower", pa.float64()),
    "upper": ("upper", pa.float64()),
    "score": ("score", pa.float64()),
    "confidence": ("confidence", pa.float64()),
    "severity": ("severity", pa.string()),
    "detector": ("detector", pa.string()),
    "rule": ("rule", pa.string()),
}


class AnomaliesFamily(TableFamily):
    """Anomaly records, one row each."""

    schema = "anomaly"
    tables = ("anomalies",)

    def to_arrow(self, decoded: Sequence[dict[str, Any]]) -> dict[str, pa.Table]:
        return {"anomalies": records_table(decoded, SPEC)}
