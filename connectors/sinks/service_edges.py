"""Service call edges (parent service -> child service per minute) computed in ClickHouse.

Spans of one trace reach Kafka in different messages (one per service and export), on
different partitions and possibly through different sink processes, so a sink batch
rarely holds both ends of a call. Edges are therefore joined in ClickHouse, over
``span_links`` (a trace-sorted copy of the join columns, fed by a materialized view on
``spans``), one *slice* of inserted blocks at a time:

* blocks get increasing numbers in commit order (``_block_number``, persisted), so once
  block ``hi`` is visible every block up to it is;
* slice ``(lo, hi]`` counts each cross-service parent/child pair whose *later* span sits
  in the slice, with the earlier one anywhere in blocks ``<= hi`` — every pair is counted
  in exactly one slice, whichever end arrives last and however far apart;
* a slice is recorded as an *intent* in ``service_edges_progress`` before its edges are
  inserted with the deduplication token ``service_edges:blocks:<lo>-<hi>``; a builder that
  finds an unfinished intent redoes that very slice, so a crash between the insert and
  the ``done`` record inserts nothing twice.

One builder may run at a time per database (the sink that owns partition 0 of the spans
topic runs it): two builders cutting different slices from the same start would overlap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
from clickhouse_connect.driver.client import Client

from streams.logs_setup import get_logger

log = get_logger(__name__)

EDGES_TABLE = "service_edges"
SETTINGS = {"insert_deduplicate": 1, "async_insert": 0}

EDGES_SQL = """
SELECT toStartOfMinute(c.timestamp) AS timestamp, c.cluster AS cluster,
       p.service AS parent_service, c.service AS child_service,
       count() AS calls, sum(c.error) AS errors, sum(c.duration_ns) AS duration_ns_sum
FROM (
    SELECT cluster, trace_id, parent_span_id, service, timestamp, error, duration_ns,
           _block_number AS block
    FROM `{db}`.span_links
    WHERE (cluster, trace_id) IN (
            SELECT cluster, trace_id FROM `{db}`.span_links
            WHERE _block_number > {{lo:UInt64}} AND _block_number <= {{hi:UInt64}})
      AND _block_number <= {{hi:UInt64}} AND parent_span_id != ''
) AS c
INNER JOIN (
    SELECT cluster, trace_id, span_id, any(service) AS service, min(_block_number) AS block
    FROM `{db}`.span_links
    WHERE (cluster, trace_id) IN (
            SELECT cluster, trace_id FROM `{db}`.span_links
            WHERE _block_number > {{lo:UInt64}} AND _block_number <= {{hi:UInt64}})
      AND _block_number <= {{hi:UInt64}} AND span_id != ''
    GROUP BY cluster, trace_id, span_id
) AS p ON c.cluster = p.cluster AND c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
WHERE c.service != p.service AND greatest(c.block, p.block) > {{lo:UInt64}}
GROUP BY timestamp, cluster, parent_service, child_service
"""

EDGE_SCHEMA = pa.schema([
    ("timestamp", pa.timestamp("s", tz="UTC")), ("cluster", pa.string()),
    ("parent_service", pa.string()), ("child_service", pa.string()),
    ("calls", pa.uint64()), ("errors", pa.uint64()), ("duration_ns_sum", pa.int64()),
])


def run_slices(run: Callable[[], int | None], max_slices: int) -> int:
    """Call ``run`` (one slice: rows written, None when none was due) until nothing is
    due, at most ``max_slices`` times; total rows written."""
    total = 0
    for _ in range(max_slices):
        rows = run()
        if rows is None:
            break
        total += rows
    return total


@dataclass(frozen=True, slots=True)
class Slice:
    """Blocks ``(lo, hi]`` of ``span_links``; ``done`` once its edges are written."""

    lo: int
    hi: int
    done: bool

    @property
    def token(self) -> str:
        return f"{EDGES_TABLE}:blocks:{self.lo}-{self.hi}"


class ServiceEdgeBuilder:
    """Turns newly inserted spans into ``service_edges`` rows, one slice per :meth:`run`."""

    def __init__(self, client: Callable[[], Client], database: str,
                 max_blocks: int = 2000,
                 inserted: Callable[[str, int, float], None] | None = None) -> None:
        self.client = client
        self.database = database
        self.max_blocks = max_blocks
        self.inserted = inserted or (lambda table, rows, seconds: None)

    def progress(self) -> Slice | None:
        """The latest recorded slice (None before the first)."""
        rows = self.client().query(
            f"SELECT lo, hi, done FROM `{self.database}`.service_edges_progress "
            "ORDER BY version DESC LIMIT 1").result_rows
        return Slice(int(rows[0][0]), int(rows[0][1]), bool(rows[0][2])) if rows else None

    def visible_block(self) -> int:
        """The highest committed block number of ``span_links``."""
        return int(self.client().command(
            "SELECT max(max_block_number) FROM system.parts WHERE active "
            "AND database = {db:String} AND table = 'span_links'",
            parameters={"db": self.database}) or 0)

    def _record(self, piece: Slice) -> None:
        self.client().insert(
            f"`{self.database}`.service_edges_progress",
            [[0, piece.lo, piece.hi, int(piece.done), 2 * piece.hi + int(piece.done)]],
            column_names=["slot", "lo", "hi", "done", "version"],
            settings={"async_insert": 0, "insert_deduplicate": 0})

    def next_slice(self) -> Slice | None:
        """The slice to work on: an unfinished intent, or fresh blocks (None: nothing new)."""
        last = self.progress()
        if last is not None and not last.done:
            return last
        start = last.hi if last is not None else 0
        visible = self.visible_block()
        if visible < start:  # the table's block counter restarted: take it from 0
            log.warning("span_links block numbers restarted", recorded=start, visible=visible)
            start = 0
        if visible <= start:
            return None
        piece = Slice(start, min(visible, start + self.max_blocks), done=False)
        self._record(piece)
        return piece

    def edges(self, piece: Slice) -> pa.Table:
        """Edge rows of a slice (deterministic: only blocks <= ``hi`` are read)."""
        started = time.perf_counter()
        table = self.client().query_arrow(
            EDGES_SQL.format(db=self.database), parameters={"lo": piece.lo, "hi": piece.hi},
            settings={"join_use_nulls": 0})
        log.debug("edges joined", lo=piece.lo, hi=piece.hi, rows=table.num_rows,
                  seconds=round(time.perf_counter() - started, 3))
        columns = {f.name: table[f.name] for f in EDGE_SCHEMA}
        columns["timestamp"] = columns["timestamp"].cast(pa.int64())  # DateTime: UInt32
        return pa.table({f.name: columns[f.name].cast(f.type) for f in EDGE_SCHEMA},
                        schema=EDGE_SCHEMA)

    def run(self) -> int | None:
        """Finish one slice; the number of edge rows it wrote (None when none was due)."""
        piece = self.next_slice()
        if piece is None:
            return None
        data = self.edges(piece)
        if data.num_rows:
            started = time.perf_counter()
            self.client().insert_arrow(
                f"`{self.database}`.`{EDGES_TABLE}`", data,
                settings={**SETTINGS, "insert_deduplication_token": piece.token})
            self.inserted(EDGES_TABLE, data.num_rows, time.perf_counter() - started)
        self._record(Slice(piece.lo, piece.hi, done=True))
        return data.num_rows

    def catch_up(self, max_slices: int = 100) -> int:
        """Run slices until nothing is due (at most ``max_slices``); edge rows written."""
        return run_slices(self.run, max_slices)
