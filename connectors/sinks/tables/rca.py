"""aiops.rca -> ``rca_reports`` (ranked causes kept as JSON, the top cause as columns)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from connectors.sinks.tables.base import MS, TableFamily, records_table


def _top(field: str, default: Any) -> Any:
    return lambda r: r["causes"][0][field] if r["causes"] else default


SPEC = {
    "timestamp": ("created_ts", MS),
    "report_id": ("report_id", pa.string()),
    "incident_id": ("incident_id", pa.string()),
    "cluster": ("cluster", pa.string()),
    "top_entity_type": (_top("entity_type", ""), pa.string()),
    "top_entity": (_top("entity", ""), pa.string()),
    "top_score": (_top("score", 0.0), pa.float64()),
    "top_pattern": (_top("pattern", ""), pa.string()),
    "causes": (lambda r: json.dumps(r["causes"], separators=(",", ":")), pa.string()),
    "summary": (lambda r: r["explanation"]["summary"], pa.string()),
    "probable_cause": (lambda r: r["explanation"]["probable_cause"], pa.string()),
    "impact": (lambda r: r["explanation"]["impact"], pa.string()),
    "remediation": (lambda r: r["explanation"]["remediation"], pa.list_(pa.string())),
    "provider": ("provider", pa.string()),
    "model": ("model", pa.string()),
    "persona": ("persona", pa.string()),
    "tokens_in": ("tokens_in", pa.int32()),
    "tokens_out": ("tokens_out", pa.int32()),
    "latency_ms": ("latency_ms", pa.float64()),
}


class RcaFamily(TableFamily):
    """RCA reports, one row each."""

    schema = "rca_report"
    tables = ("rca_reports",)

    def to_arrow(self, decoded: Sequence[dict[str, Any]]) -> dict[str, pa.Table]:
        return {"rca_reports": records_table(decoded, SPEC)}
