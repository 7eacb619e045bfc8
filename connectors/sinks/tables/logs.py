"""aiops.logs -> ``logs`` (one row per line, with its Drain template id and parameters),
``log_templates`` (per stream and template: text, first/last line time, lines) and
``log_miner_state`` (snapshots of the stream miners that changed).

Templates are assigned in :meth:`LogsFamily.prepare` (once per record, in offset order, by
``streams.logs.assignment``); the first batch of a partition restores that partition's miners
from ``log_miner_state``. See docs/log-templates.md, "Stored templates".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.client import Client

from connectors.sinks.base import PartitionKey, Record
from connectors.sinks.tables.base import STR_MAP, TableFamily, check_columns, ms_array, ns_array
from streams.logs.assignment import Assignment, TemplateAssigner, stream_parts
from streams.logs_setup import get_logger

log = get_logger(__name__)

LIFTED = ("namespace", "pod", "container", "app")
COLUMNS = ("timestamps_ns", "labels", "levels", "bodies", "trace_ids", "span_ids", "metadata")
AT = "_sink_at"  # (topic, partition, offset) of the record, set by decode
ASSIGNED = "_sink_templates"  # its Assignment, set by prepare
STATE_SQL = ("SELECT stream, offset, state FROM `{db}`.log_miner_state FINAL"
             " WHERE topic = {t:String} AND partition = {p:UInt32}")


class LogsFamily(TableFamily):
    """LogBatch records, one row per log line, with templates and miner state."""

    schema = "log_batch"
    tables = ("logs", "log_templates", "log_miner_state")

    def __init__(self, assigner: TemplateAssigner | None = None) -> None:
        super().__init__()
        self.assigner = assigner or TemplateAssigner()

    def decode(self, record: Record) -> dict[str, Any]:
        decoded = super().decode(record)
        check_columns(decoded, COLUMNS)
        decoded[AT] = (record.topic, record.partition, record.offset)
        return decoded

    def rows(self, decoded: dict[str, Any]) -> int:
        return len(decoded["bodies"])

    # -- templates -----------------------------------------------------------------------
    def prepare(self, decoded: Sequence[dict[str, Any]], client: Callable[[], Client],
                database: str) -> None:
        """Assign templates to records not assigned yet (a retried batch keeps its own)."""
        for rec in decoded:
            if ASSIGNED in rec:
                continue
            topic, partition, offset = rec[AT]
            key = (topic, partition)
            if not self.assigner.loaded(key):
                self._restore(key, client, database)
            rec[ASSIGNED] = self.assigner.assign(key, offset, rec)

    def _restore(self, key: PartitionKey, client: Callable[[], Client], database: str) -> None:
        started = time.perf_counter()
        rows = client().query(STATE_SQL.replace("{db}", database),
                              parameters={"t": key[0], "p": key[1]},
                              query_formats={"String": "bytes"}).result_rows
        n = self.assigner.load(key, ((bytes(s).decode("utf-8", "replace"), int(o), bytes(st))
                                     for s, o, st in rows))
        log.info("template state restored", partition=f"{key[0]}/{key[1]}", streams=n,
                 seconds=round(time.perf_counter() - started, 3))

    def forget(self, keys: Iterable[PartitionKey]) -> None:
        self.assigner.forget(keys)

    def acknowledged(self, table: str, data: pa.Table) -> None:
        if table != "log_miner_state":
            return
        rows = zip(data["topic"].to_pylist(), data["partition"].to_pylist(),
                   data["stream"].to_pylist(), data["offset"].to_pylist(), strict=True)
        for topic, partition, stream, offset in rows:
            self.assigner.saved((topic, partition), stream, offset)

    # -- tables --------------------------------------------------------------------------
    def to_arrow(self, decoded: Sequence[dict[str, Any]]) -> dict[str, pa.Table]:
        counts = np.array([len(b["bodies"]) for b in decoded], dtype=np.int64)
        idx = np.repeat(np.arange(len(decoded)), counts)

        def cat(field: str) -> list[Any]:
            return [v for b in decoded for v in b[field]]

        def per_batch(field: str) -> pa.Array:
            values = pa.array([b[field] for b in decoded], pa.string())
            return values.take(pa.array(idx, pa.int64()))

        assigned = [_assignment(b) for b in decoded]
        labels = cat("labels")
        stamps = np.fromiter((t for b in decoded for t in b["timestamps_ns"]), dtype=np.int64,
                             count=int(counts.sum()))
        template_ids = pa.array([t for a in assigned for t in a.ids], pa.string())
        cols: dict[str, Any] = {
            "timestamp": ns_array(stamps),
            "cluster": per_batch("cluster"),
            "source": per_batch("source"),
        }
        for name in LIFTED:
            cols[name] = pa.array([lb.get(name) or lb.get(f"k8s.{name}.name", "")
                                   for lb in labels], pa.string())
        cols.update({
            "level": pa.array(cat("levels"), pa.string()),
            "body": pa.array(cat("bodies"), pa.string()),
            "template_id": template_ids,
            "template_params": pa.array([p for a in assigned for p in a.params],
                                        pa.list_(pa.string())),
            "trace_id": pa.array(cat("trace_ids"), pa.string()),
            "span_id": pa.array(cat("span_ids"), pa.string()),
            "labels": pa.array(labels, STR_MAP),
            "metadata": pa.array(cat("metadata"), STR_MAP),
        })
        out = {"logs": pa.table(cols)}
        templates = template_rows(assigned, template_ids, stamps)
        if templates.num_rows:
            out["log_templates"] = templates
        state = self._state_rows(decoded, assigned)
        if state.num_rows:
            out["log_miner_state"] = state
        return out

    def _state_rows(self, decoded: Sequence[dict[str, Any]], assigned: list[Assignment]
                    ) -> pa.Table:
        touched: dict[PartitionKey, set[str]] = {}
        for rec, a in zip(decoded, assigned, strict=True):
            if ASSIGNED in rec:
                topic, partition, _ = rec[AT]
                touched.setdefault((topic, partition), set()).update(
                    "/".join(parts) for parts in set(a.streams))
        rows = [(key, snap) for key, streams in touched.items()
                for snap in self.assigner.due(key, sorted(streams))]
        now = int(time.time() * 1000)
        return pa.table({
            "topic": pa.array([k[0] for k, _ in rows], pa.string()),
            "partition": pa.array([k[1] for k, _ in rows], pa.uint32()),
            "stream": pa.array([s.stream for _, s in rows], pa.string()),
            "offset": pa.array([s.offset for _, s in rows], pa.uint64()),
            "state": pa.array([s.state for _, s in rows], pa.binary()),
            "saved": ms_array([now] * len(rows)),
        })


def _assignment(rec: dict[str, Any]) -> Assignment:
    """The record's templates; empty ids when it was never prepared (nothing to mine with)."""
    found = rec.get(ASSIGNED)
    if found is not None:
        return found
    n = len(rec["bodies"])
    parts = [stream_parts(rec["cluster"], lb) for lb in rec["labels"]]
    return Assignment([""] * n, [""] * n, [[] for _ in range(n)], parts)


def template_rows(assigned: list[Assignment], template_ids: pa.Array, stamps: np.ndarray
                  ) -> pa.Table:
    """One row per (stream, template) of the batch: text, first/last line time, lines."""
    streams = [s for a in assigned for s in a.streams]
    lines = pa.table({
        "cluster": pa.array([s[0] for s in streams], pa.string()),
        "namespace": pa.array([s[1] for s in streams], pa.string()),
        "app": pa.array([s[2] for s in streams], pa.string()),
        "template_id": template_ids,
        "template": pa.array([t for a in assigned for t in a.templates], pa.string()),
        "ts": pa.array(stamps, pa.int64()),
    })
    lines = lines.filter(pc.not_equal(lines["template_id"], ""))
    g = lines.group_by(["cluster", "namespace", "app", "template_id", "template"]).aggregate(
        [("ts", "min"), ("ts", "max"), ("ts", "count")])
    return pa.table({
        "cluster": g["cluster"], "namespace": g["namespace"], "app": g["app"],
        "template_id": g["template_id"], "template": g["template"],
        "first_seen": ms_array(g["ts_min"].to_numpy() // 1_000_000),
        "last_seen": ms_array(g["ts_max"].to_numpy() // 1_000_000),
        "lines": g["ts_count"].cast(pa.uint64()),
    })
