"""aiops.metrics -> ``metrics`` (rollups follow by materialized views) and ``series``.

The sample columns are read with numpy (:mod:`metric_wire`); names come from the
:class:`SeriesCache`, which a full fastavro decode fills the first time a message
brings an unknown series (that decode also validates the message). Each series'
labels are written once per sink process to ``series``: those rows go in before
the batch's samples and without a deduplication token (``ReplacingMergeTree``
collapses repeats), so a replay can never drop one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from connectors.sinks.base import Record
from connectors.sinks.tables.base import MS, STR_MAP, TableFamily, check_columns
from connectors.sinks.tables.metric_wire import MetricColumns, read_columns
from connectors.sinks.tables.series_cache import SeriesCache
from schemas.codec import raw_schema

COLUMNS = ("timestamps", "series_ids", "names", "labels", "values", "types")
METRIC_TYPES = tuple(
    next(f for f in raw_schema("metric_batch")["fields"] if f["name"] == "types")
    ["type"]["items"]["symbols"]
)


@dataclass(frozen=True, slots=True)
class DecodedMetrics:
    """One MetricBatch ready for the batch: its columns and the payload (for re-learning)."""

    columns: MetricColumns
    payload: bytes


class MetricsFamily(TableFamily):
    """MetricBatch records, one row per sample, plus one ``series`` row per new series."""

    schema = "metric_batch"
    tables = ("series", "metrics")
    untokened = ("series",)

    def __init__(self, max_series: int = 2_000_000, max_age_s: float = 86_400.0) -> None:
        super().__init__()
        self.cache = SeriesCache(max_series, max_age_s)
        self.unwritten: dict[int, tuple[str, str, dict[str, str], str]] = {}
        self.claimed: set[int] = set()  # in a series insert that has not returned yet
        self.fast_decodes = 0
        self.full_decodes = 0

    def decode(self, record: Record) -> DecodedMetrics:
        payload = record.value
        if payload is None:
            return super().decode(record)
        cols = None
        if payload[2:10] == self.codec._header[2:]:
            cols = read_columns(payload, len(METRIC_TYPES))
        if cols is None or self.cache.missing(cols.series_ids):
            cols = self._learn(payload)
        else:
            self.fast_decodes += 1
        return DecodedMetrics(cols, payload)

    def _learn(self, payload: bytes) -> MetricColumns:
        """Full decode: validates the record, caches its series and queues their labels."""
        rec = self.codec.decode(payload)
        n = check_columns(rec, COLUMNS)
        self.full_decodes += 1
        cluster = rec["cluster"]
        self.cache.add(rec["series_ids"], rec["names"])
        for sid, name, labels, type_ in zip(rec["series_ids"], rec["names"], rec["labels"],
                                            rec["types"], strict=True):
            self.unwritten.setdefault(sid, (cluster, name, labels, type_))
        return MetricColumns(
            cluster, np.asarray(rec["timestamps"], dtype=np.int64),
            np.asarray(rec["series_ids"], dtype=np.int64),
            np.asarray(rec["values"], dtype=np.float64),
            np.fromiter((METRIC_TYPES.index(t) for t in rec["types"]), dtype=np.uint8,
                        count=n))

    def rows(self, decoded: DecodedMetrics) -> int:
        return len(decoded.columns.series_ids)

    def to_arrow(self, decoded: Sequence[DecodedMetrics]) -> dict[str, pa.Table]:
        self.cache.trim()
        cols = [d.columns for d in decoded]
        sids = np.concatenate([c.series_ids for c in cols])
        positions = self.cache.positions(sids)
        if (positions < 0).any():  # forgotten since decode: learn those records again
            for d in decoded:
                if (self.cache.positions(d.columns.series_ids) < 0).any():
                    self._learn(d.payload)
            positions = self.cache.positions(sids)
        counts = np.fromiter((len(c.series_ids) for c in cols), dtype=np.int64, count=len(cols))
        clusters, per_record = np.unique([c.cluster for c in cols], return_inverse=True)
        metrics = pa.table({
            "cluster": pa.DictionaryArray.from_arrays(
                pa.array(np.repeat(per_record.astype(np.int32), counts)),
                pa.array(clusters.tolist(), pa.string())),
            "name": self.cache.names(positions),
            "series_id": pa.array(sids, pa.int64()),
            "timestamp": pa.array(np.concatenate([c.timestamps for c in cols]),
                                  pa.int64()).cast(MS),
            "value": pa.array(np.concatenate([c.values for c in cols]), pa.float64()),
            "type": pa.DictionaryArray.from_arrays(
                pa.array(np.concatenate([c.types for c in cols]).astype(np.int8)),
                pa.array(METRIC_TYPES, pa.string())),
        })
        series = self._series_table()
        return {"series": series, "metrics": metrics} if series else {"metrics": metrics}

    def _series_table(self) -> pa.Table | None:
        """Unwritten series not already on their way (claimed until acknowledged/released)."""
        ids = [sid for sid in self.unwritten if sid not in self.claimed]
        if not ids:
            return None
        self.claimed.update(ids)
        rows = [self.unwritten[sid] for sid in ids]
        return pa.table({
            "cluster": pa.array([r[0] for r in rows], pa.string()),
            "name": pa.array([r[1] for r in rows], pa.string()),
            "series_id": pa.array(ids, pa.int64()),
            "labels": pa.array([r[2] for r in rows], STR_MAP),
            "type": pa.array([r[3] for r in rows], pa.string()),
            "seen": pa.array([int(time.time() * 1000)] * len(ids), pa.int64()).cast(MS),
        })

    def acknowledged(self, table: str, data: pa.Table) -> None:
        if table == "series":
            for sid in data["series_id"].to_pylist():
                self.unwritten.pop(sid, None)
                self.claimed.discard(sid)

    def released(self, table: str, data: pa.Table) -> None:
        if table == "series":
            self.claimed.difference_update(data["series_id"].to_pylist())
