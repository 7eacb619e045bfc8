"""aiops.spans -> ``spans`` (``traces`` and ``span_links`` follow by materialized views).

Service edges are not joined here: the two spans of a call usually arrive in different
batches, partitions or sink processes; :mod:`connectors.sinks.service_edges` joins them
in ClickHouse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from connectors.sinks.base import Record
from connectors.sinks.tables.base import STR_MAP, TableFamily, check_columns, ns_array

COLUMNS = ("trace_ids", "span_ids", "parent_span_ids", "services", "operations", "kinds",
           "start_ns", "duration_ns", "status_codes", "status_messages", "attributes",
           "resources")


class SpansFamily(TableFamily):
    """SpanBatch records, one row per span."""

    schema = "span_batch"
    tables = ("spans",)

    def decode(self, record: Record) -> dict[str, Any]:
        decoded = super().decode(record)
        check_columns(decoded, COLUMNS)
        return decoded

    def rows(self, decoded: dict[str, Any]) -> int:
        return len(decoded["span_ids"])

    def to_arrow(self, decoded: Sequence[dict[str, Any]]) -> dict[str, pa.Table]:
        counts = np.array([len(b["span_ids"]) for b in decoded], dtype=np.int64)
        take = pa.array(np.repeat(np.arange(len(decoded)), counts), pa.int64())

        def cat(field: str) -> list[Any]:
            return [v for b in decoded for v in b[field]]

        resources = cat("resources")
        start = np.array(cat("start_ns"), dtype=np.int64)
        duration = np.array(cat("duration_ns"), dtype=np.int64)
        spans = pa.table({
            "timestamp": ns_array(start),
            "cluster": pa.array([b["cluster"] for b in decoded], pa.string()).take(take),
            "source": pa.array([b["source"] for b in decoded], pa.string()).take(take),
            "trace_id": pa.array(cat("trace_ids"), pa.string()),
            "span_id": pa.array(cat("span_ids"), pa.string()),
            "parent_span_id": pa.array(cat("parent_span_ids"), pa.string()),
            "service": pa.array(cat("services"), pa.string()),
            "operation": pa.array(cat("operations"), pa.string()),
            "kind": pa.array(cat("kinds"), pa.string()),
            "duration_ns": pa.array(duration, pa.int64()),
            "status_code": pa.array(cat("status_codes"), pa.string()),
            "status_message": pa.array(cat("status_messages"), pa.string()),
            "namespace": pa.array([r.get("k8s.namespace.name", "") for r in resources],
                                  pa.string()),
            "attributes": pa.array(cat("attributes"), STR_MAP),
            "resources": pa.array(resources, STR_MAP),
        })
        return {"spans": spans}
