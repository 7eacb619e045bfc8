"""Rollup reads that never miss samples the rollup builders have not aggregated yet.

The sink's builders (:mod:`connectors.sinks.metric_rollups`) fold slices of inserted
``metrics`` blocks into ``metrics_1m`` every ``AIOPS_HISTORY_ROLLUP_INTERVAL_S`` and
into ``metrics_1h`` every ``AIOPS_HISTORY_ROLLUP_1H_INTERVAL_S``. A reader first finds
the *cut*: the start of the first minute (hour) that holds a matching sample in a block
the table's builder has not finished (``metrics_rollup_progress``); every earlier minute
(hour) is complete in the rollup. It then reads rollup rows before the cut and raw
samples from the cut on, aggregated into the same columns. Each sample is read from
exactly one side: complete and never doubled, whatever the builder does meanwhile (a
slice in flight only holds samples at or after the cut; a block that lands after the
cut was taken is simply not seen yet).
"""

from __future__ import annotations

from api.db import ClickHousePool
from api.queries.sql import Where

GRAIN_S = {"metrics_1m": 60, "metrics_1h": 3600}
BUCKET = {"metrics_1m": "toStartOfMinute", "metrics_1h": "toStartOfHour"}
SLOT = {"metrics_1m": 0, "metrics_1h": 1}  # the table's builder's row in the progress table
NO_CUT = 4_294_967_295  # the largest DateTime: everything comes from the rollup
BUILT = ("coalesce((SELECT if(done, hi, lo) FROM metrics_rollup_progress WHERE slot = {slot} "
         "ORDER BY seq DESC LIMIT 1), 0)")
PART_MAX_BLOCK = "toUInt64(splitByChar('_', substring(_part, length(_partition_id) + 2))[2])"
UNBUILT = f"{PART_MAX_BLOCK} > {BUILT} AND _block_number > {BUILT}"
# rollup-shaped columns: (from the rollup table, from raw samples)
COLUMNS = {
    "count": ("toUInt64(count)", "count()"),
    "min": ("toFloat64(min)", "min(value)"),
    "max": ("toFloat64(max)", "max(value)"),
    "sum": ("toFloat64(sum)", "sum(value)"),
    "quantiles": ("quantiles", "quantilesTDigestState(0.5, 0.9, 0.99)(value)"),
    "last": ("last", "argMaxState(value, timestamp)"),
}


def cut(pool: ClickHousePool, table: str, w: Where) -> int:
    """Epoch seconds of the first ``table`` bucket with unbuilt samples matching ``w``."""
    grain = GRAIN_S[table]
    unbuilt = UNBUILT.replace("{slot}", str(SLOT[table]))
    value = pool.rows(
        f"SELECT intDiv(toUnixTimestamp(minOrNull(timestamp)), {grain}) * {grain} "
        f"FROM metrics WHERE {w.sql} AND {unbuilt}", w.params)[0][0]
    return NO_CUT if value is None else int(value)


def source(pool: ClickHousePool, table: str, w: Where, columns: list[str]) -> str:
    """A subquery of rollup rows (``cluster, name, series_id, timestamp`` + ``columns``).

    ``w`` filters both sides (its conditions name ``cluster``, ``name``, ``series_id``,
    ``timestamp``); the cut is bound into ``w``'s parameters, so every query built from
    this source in one request sees the same split.
    """
    at = w.bind(cut(pool, table, w), "UInt32")
    rolled = ", ".join(f"{COLUMNS[c][0]} AS {c}" for c in columns)
    raw = ", ".join(f"{COLUMNS[c][1]} AS {c}" for c in columns)
    return (
        f"(SELECT cluster, name, series_id, timestamp, {rolled} FROM {table} "
        f"WHERE {w.sql} AND timestamp < toDateTime({at}, 'UTC') "
        "UNION ALL "
        f"SELECT cluster, name, series_id, toDateTime({BUCKET[table]}(timestamp), 'UTC') AS t, "
        f"{raw} FROM metrics WHERE {w.sql} AND timestamp >= toDateTime64({at}, 3, 'UTC') "
        "AND NOT isNaN(value) GROUP BY cluster, name, series_id, t)")
