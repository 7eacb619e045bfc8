"""The metric rollup builder: ``metrics`` blocks into ``metrics_1m`` and ``metrics_1h``.

Insert-time views turned every live sample into an aggregate row with a quantilesTDigest
state (~7 ClickHouse CPU-s per million samples). The builder instead aggregates a *slice*
of inserted blocks at a time, so one aggregate row sums all of a series' samples of a
minute that arrived in the slice:

* ``metrics`` keeps each row's insert block number (``_block_number``, persisted); numbers
  follow commit order, so once block ``hi`` is visible every block up to it is;
* each rollup table has its own builder and progress row (``slot``) and cadence: slice
  ``(lo, hi]`` (``lo`` = the previous slice's end) is recorded as an *intent* in
  ``metrics_rollup_progress``, aggregated with one ``INSERT ... SELECT`` carrying the
  token ``<table>:blocks:<lo>-<hi>`` (sorted, so the select is stable, and squashed into
  one block, so the insert lands whole or not at all), then recorded done;
* a builder that finds an unfinished intent redoes that very slice (it reads only blocks
  ``(lo, hi]``, so the rows are the same) and ClickHouse drops what already landed.

Both rollups are built from raw slices (measured against ``metrics_1h`` from 1-minute
states, and the hourly one less often, since a slice writes a row per series whatever
its length: see docs/history.md). Readers split by time at the first minute (hour)
holding unbuilt samples (:mod:`api.queries.rollups`), so the lag costs freshness of
nothing. One builder per table may run at a time per database (the sink owning partition
0 of the metrics topic runs them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from connectors.sinks.service_edges import run_slices
from streams.logs_setup import get_logger

log = get_logger(__name__)

PROGRESS_TABLE = "metrics_rollup_progress"
QUANTILES = "0.5, 0.9, 0.99"
# Parts whose block range meets (lo, hi] (the part name holds it): prunes old parts
# without an index on ``_block_number`` (an existing table cannot gain one).
PART_MIN_BLOCK = "toUInt64(splitByChar('_', substring(_part, length(_partition_id) + 2))[1])"
PART_MAX_BLOCK = "toUInt64(splitByChar('_', substring(_part, length(_partition_id) + 2))[2])"
SLICE_WHERE = (f"{PART_MAX_BLOCK} > {{lo:UInt64}} AND {PART_MIN_BLOCK} <= {{hi:UInt64}} "
               "AND _block_number > {lo:UInt64} AND _block_number <= {hi:UInt64}")


@dataclass(frozen=True, slots=True)
class Rollup:
    """How one rollup table is built: its progress slot, time bucket, slice size."""

    slot: int
    bucket: str
    max_blocks: int


ROLLUPS = {"metrics_1m": Rollup(0, "toStartOfMinute", 600),
           "metrics_1h": Rollup(1, "toStartOfHour", 6000)}

ROLLUP_SQL = """
INSERT INTO `{db}`.`{table}`
    (cluster, name, series_id, timestamp, count, min, max, sum, avg, quantiles, last)
SELECT cluster, name, series_id, {bucket}(timestamp) AS bucket, count(), min(value),
       max(value), sum(value), avgState(value),
       quantilesTDigestState({quantiles})(value), argMaxState(value, timestamp)
FROM `{db}`.metrics
WHERE {where} AND NOT isNaN(value)
GROUP BY cluster, name, series_id, bucket
ORDER BY cluster, name, series_id, bucket
"""

# One block per insert (so a token covers all of it), no sort-merge of equal keys at insert.
# ORDER BY above: ClickHouse 26 keys INSERT SELECT deduplication on the token *and* the
# select's chunking, which a multi-threaded GROUP BY varies; one sorted stream does not.
HUGE = 1 << 62
INSERT_SETTINGS = {"insert_deduplicate": 1, "async_insert": 0, "optimize_on_insert": 0,
                   "min_insert_block_size_rows": HUGE, "min_insert_block_size_bytes": HUGE}


@dataclass(frozen=True, slots=True)
class Slice:
    """Blocks ``(lo, hi]`` of ``metrics``; ``done`` once its rollup rows are written."""

    lo: int
    hi: int
    done: bool
    seq: int

    def token(self, table: str) -> str:
        return f"{table}:blocks:{self.lo}-{self.hi}"

    @property
    def built(self) -> int:
        """Blocks up to this number are in the rollup."""
        return self.hi if self.done else self.lo


class MetricRollupBuilder:
    """Aggregates newly inserted samples into ``table``, one slice per :meth:`run`."""

    def __init__(self, client: Callable[[], Client], database: str,
                 table: str = "metrics_1m", max_blocks: int | None = None,
                 inserted: Callable[[str, int, float], None] | None = None) -> None:
        self.client = client
        self.database = database
        self.table = table
        self.rollup = ROLLUPS[table]
        self.max_blocks = max_blocks or self.rollup.max_blocks
        self.inserted = inserted or (lambda table, rows, seconds: None)

    def progress(self) -> Slice | None:
        """The latest recorded slice (None before the first)."""
        rows = self.client().query(
            f"SELECT lo, hi, done, seq FROM `{self.database}`.{PROGRESS_TABLE} "
            "WHERE slot = {slot:UInt8} ORDER BY seq DESC LIMIT 1",
            parameters={"slot": self.rollup.slot}).result_rows
        if not rows:
            return None
        lo, hi, done, seq = rows[0]
        return Slice(int(lo), int(hi), bool(done), int(seq))

    def visible_block(self) -> int:
        """The highest committed block number of ``metrics``."""
        return int(self.client().command(
            "SELECT max(max_block_number) FROM system.parts WHERE active "
            "AND database = {db:String} AND table = 'metrics'",
            parameters={"db": self.database}) or 0)

    def position(self) -> tuple[int, int]:
        """(blocks up to this number are rolled up, committed blocks not rolled up yet)."""
        last = self.progress()
        built = last.built if last else 0
        return built, max(0, self.visible_block() - built)

    def _record(self, piece: Slice) -> None:
        self.client().insert(
            f"`{self.database}`.{PROGRESS_TABLE}",
            [[self.rollup.slot, piece.lo, piece.hi, int(piece.done), piece.seq]],
            column_names=["slot", "lo", "hi", "done", "seq"],
            settings={"async_insert": 0, "insert_deduplicate": 0})

    def next_slice(self) -> Slice | None:
        """The slice to work on: an unfinished intent, or fresh blocks (None: nothing new).

        A fresh slice is recorded as an intent before it is returned.
        """
        last = self.progress()
        if last is not None and not last.done:
            return last
        start = last.hi if last is not None else 0
        seq = last.seq + 1 if last is not None else 1
        visible = self.visible_block()
        if visible < start:  # every part expired and the server restarted: counter reset
            log.warning("metrics block numbers restarted", table=self.table, recorded=start,
                        visible=visible)
            start = 0
        if visible <= start:
            return None
        piece = Slice(start, min(visible, start + self.max_blocks), done=False, seq=seq)
        self._record(piece)
        return piece

    def insert(self, piece: Slice) -> int:
        """Aggregate the slice into the rollup table; rows written (0 when deduplicated)."""
        started = time.perf_counter()
        summary = self.client().command(
            ROLLUP_SQL.format(db=self.database, table=self.table, bucket=self.rollup.bucket,
                              quantiles=QUANTILES, where=SLICE_WHERE),
            parameters={"lo": piece.lo, "hi": piece.hi},
            settings={**INSERT_SETTINGS,
                      "insert_deduplication_token": piece.token(self.table)})
        written = int(getattr(summary, "written_rows", 0) or 0)
        self.inserted(self.table, written, time.perf_counter() - started)
        return written

    def run(self) -> int | None:
        """Finish one slice; rollup rows it wrote (None when none was due)."""
        piece = self.next_slice()
        if piece is None:
            return None
        written = self.insert(piece)
        self._record(Slice(piece.lo, piece.hi, done=True, seq=piece.seq + 1))
        log.debug("rollup slice built", table=self.table, lo=piece.lo, hi=piece.hi,
                  rows=written)
        return written

    def catch_up(self, max_slices: int = 100) -> int:
        """Run slices until nothing is due (at most ``max_slices``); rollup rows written."""
        return run_slices(self.run, max_slices)


def build_rollups(client: Callable[[], Client], database: str, max_slices: int = 100,
                  max_blocks: int | None = None) -> int:
    """Catch every rollup table up (one builder each); rollup rows written."""
    return sum(MetricRollupBuilder(client, database, table, max_blocks).catch_up(max_slices)
               for table in ROLLUPS)
