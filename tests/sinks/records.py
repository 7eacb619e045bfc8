"""Valid records for the sink tests: random per schema (seeded) with current timestamps.

Current times matter: rows older than a table's TTL are dropped on insert.
"""

from __future__ import annotations

import time
from typing import Any

from schemas.batches import metric_batch
from schemas.codec import raw_schema
from tests.avro_data import sample_record

MS_FIELDS = {"ts", "scrape_ts", "received_ts", "starts_at", "ends_at", "start_ts", "sample_ts",
             "detected_ts", "opened_ts", "updated_ts", "resolved_ts", "created_ts", "last_seen",
             "onset_ts"}


def _fresh(node: Any, now_ms: int) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in MS_FIELDS and isinstance(value, int):
                out[key] = now_ms
            elif key in ("timestamps_ns", "start_ns") and isinstance(value, list):
                out[key] = [now_ms * 1_000_000 + i for i in range(len(value))]
            elif key == "timestamps" and isinstance(value, list):
                out[key] = [now_ms] * len(value)
            else:
                out[key] = _fresh(value, now_ms)
        return out
    if isinstance(node, list):
        return [_fresh(v, now_ms) for v in node]
    return node


def columnar(record: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Trim a random columnar record's arrays to one common length."""
    n = min(len(record[f]) for f in fields)
    return {**record, **{f: record[f][:n] for f in fields}}


def fresh_record(schema: str, seed: int) -> dict[str, Any]:
    """A valid random ``schema`` record with timestamps at now and equal-length columns."""
    from connectors.sinks.tables.logs import COLUMNS as LOG_COLUMNS
    from connectors.sinks.tables.metrics import COLUMNS as METRIC_COLUMNS
    from connectors.sinks.tables.spans import COLUMNS as SPAN_COLUMNS

    record = _fresh(sample_record(raw_schema(schema), seed), int(time.time() * 1000))
    ragged = {"log_batch": LOG_COLUMNS, "span_batch": SPAN_COLUMNS,
              "metric_batch": METRIC_COLUMNS}
    if schema in ragged:
        record = columnar(record, ragged[schema])
    return record


def metrics(cluster: str, target: str, n: int, ts_ms: int, start: int = 0,
            value: float = 1.0) -> dict[str, Any]:
    """A MetricBatch of ``n`` distinct realistic series at ``ts_ms``."""
    labels = [{"namespace": f"ns-{i % 7}", "pod": f"pod-{i}", "job": "kubelet",
               "instance": f"10.0.0.{i % 250}:10250"} for i in range(start, start + n)]
    names = ["container_cpu_usage_seconds_total" if i % 2 else "container_memory_rss"
             for i in range(start, start + n)]
    return metric_batch(cluster, "simulator", target, ts_ms, names=names, labels=labels,
                        values=[value + i for i in range(n)], timestamps=[ts_ms] * n,
                        types=["COUNTER" if i % 2 else "GAUGE" for i in range(start, start + n)])
