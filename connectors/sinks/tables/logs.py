"""aiops.logs -> ``logs``: LogBatch columns concatenated, k8s labels lifted to columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from connectors.sinks.base import Record
from connectors.sinks.tables.base import STR_MAP, TableFamily, check_columns, ns_array

LIFTED = ("namespace", "pod", "container", "app")
COLUMNS = ("timestamps_ns", "labels", "levels", "bodies", "trace_ids", "span_ids", "metadata")


class LogsFamily(TableFamily):
    """LogBatch records, one row per log line."""

    schema = "log_batch"
    tables = ("logs",)

    def decode(self, record: Record) -> dict[str, Any]:
        decoded = super().decode(record)
        check_columns(decoded, COLUMNS)
        return decoded

    def rows(self, decoded: dict[str, Any]) -> int:
        return len(decoded["bodies"])

    def to_arrow(self, decoded: Sequence[dict[str, Any]]) -> dict[str, pa.Table]:
        counts = np.array([len(b["bodies"]) for b in decoded], dtype=np.int64)
        idx = np.repeat(np.arange(len(decoded)), counts)

        def cat(field: str) -> list[Any]:
            return [v for b in decoded for v in b[field]]

        def per_batch(field: str) -> pa.Array:
            values = pa.array([b[field] for b in decoded], pa.string())
            return values.take(pa.array(idx, pa.int64()))

        labels = cat("labels")
        metadata = cat("metadata")
        cols: dict[str, Any] = {
            "timestamp": ns_array(np.fromiter((t for b in decoded for t in b["timestamps_ns"]),
                                              dtype=np.int64, count=int(counts.sum()))),
            "cluster": per_batch("cluster"),
            "source": per_batch("source"),
        }
        for name in LIFTED:
            cols[name] = pa.array([lb.get(name) or lb.get(f"k8s.{name}.name", "")
                                   for lb in labels], pa.string())
        cols.update({
            "level": pa.array(cat("levels"), pa.string()),
            "body": pa.array(cat("bodies"), pa.string()),
            "template_id": pa.array([m.get("template_id", "") for m in metadata], pa.string()),
            "trace_id": pa.array(cat("trace_ids"), pa.string()),
            "span_id": pa.array(cat("span_ids"), pa.string()),
            "labels": pa.array(labels, STR_MAP),
            "metadata": pa.array(metadata, STR_MAP),
        })
        return {"logs": pa.table(cols)}
