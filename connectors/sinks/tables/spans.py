"""aiops.spans -> ``spans`` plus ``service_edges`` (parent -> child service calls per minute).

Edges come from parent/child spans inside the same sink batch; a parent written in
another batch is not joined (the trace view in ``traces``/``spans`` is complete).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.sinks.base import Record
from connectors.sinks.tables.base import STR_MAP, TableFamily, check_columns, ns_array

MINUTE_NS = 60_000_000_000
COLUMNS = ("trace_ids", "span_ids", "parent_span_ids", "services", "operations", "kinds",
           "start_ns", "duration_ns", "status_codes", "status_messages", "attributes",
           "resources")


class SpansFamily(TableFamily):
    """SpanBatch records, one row per span."""

    schema = "span_batch"
    tables = ("spans", "service_edges")

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
        out = {"spans": spans}
        edges = service_edges(spans, start, duration)
        if edges.num_rows:
            out["service_edges"] = edges
        return out


def service_edges(spans: pa.Table, start: np.ndarray, duration: np.ndarray) -> pa.Table:
    """Calls between different services: child spans joined to their parent span."""
    child = pa.table({
        "cluster": spans["cluster"], "trace_id": spans["trace_id"],
        "parent_span_id": spans["parent_span_id"], "child_service": spans["service"],
        "minute": pa.array(start // MINUTE_NS * 60, pa.int64()),
        "error": pc.cast(pc.equal(spans["status_code"], "ERROR"), pa.int64()),
        "duration_ns": pa.array(duration, pa.int64()),
    })
    parent = pa.table({
        "cluster": spans["cluster"], "trace_id": spans["trace_id"],
        "parent_span_id": spans["span_id"], "parent_service": spans["service"],
    })
    joined = child.join(parent, ["cluster", "trace_id", "parent_span_id"], join_type="inner")
    joined = joined.filter(pc.not_equal(joined["parent_service"], joined["child_service"]))
    grouped = joined.group_by(["minute", "cluster", "parent_service", "child_service"]).aggregate(
        [("error", "count"), ("error", "sum"), ("duration_ns", "sum")])
    return pa.table({
        "timestamp": pc.cast(grouped["minute"], pa.int64()).cast(pa.timestamp("s", tz="UTC")),
        "cluster": grouped["cluster"],
        "parent_service": grouped["parent_service"],
        "child_service": grouped["child_service"],
        "calls": pc.cast(grouped["error_count"], pa.uint64()),
        "errors": pc.cast(grouped["error_sum"], pa.uint64()),
        "duration_ns_sum": grouped["duration_ns_sum"],
    })
