"""Log lines by stream labels, text and level; Drain template patterns with trend."""

from __future__ import annotations

from typing import Any

from api.db import ClickHousePool
from api.queries.sql import Where

STREAM_COLUMNS = ("namespace", "pod", "container", "app")
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "UNKNOWN")


def where(*, clusters: list[str] | None, start_ms: int, end_ms: int,
          streams: dict[str, str], labels: list[tuple[str, str]], contains: str | None,
          regex: str | None, levels: list[str] | None) -> Where:
    w = Where()
    w.clusters(clusters)
    w.time_range("timestamp", start_ms, end_ms)
    for column, value in streams.items():  # column from STREAM_COLUMNS
        w.add(f"{column} = {{}}", value, "String")
    for k, v in labels:
        w.add(f"labels[{w.bind(k, 'String')}] = {{}}", v, "String")
    if contains:
        w.add("position(body, {}) > 0", contains, "String")
    if regex:
        w.add("match(body, {})", regex, "String")
    w.any_of("level", levels)
    return w


def lines(pool: ClickHousePool, *, where: Where, direction: str, limit: int
          ) -> list[dict[str, Any]]:
    order = "DESC" if direction == "backward" else "ASC"
    return pool.dicts(
        "SELECT toUnixTimestamp64Nano(timestamp) AS ts_ns, cluster, namespace, pod, container,"
        " app, level, body, template_id, template_params, trace_id, span_id, labels FROM logs"
        f" WHERE {where.sql} ORDER BY timestamp {order} LIMIT {{_lim:UInt32}}",
        {**where.params, "_lim": limit})


def patterns(pool: ClickHousePool, *, where: Where, start_ms: int, end_ms: int, limit: int
             ) -> list[dict[str, Any]]:
    """Templates (id and text from ``log_templates``) with counts, an example line and trend
    (second half vs first half)."""
    mid = (start_ms + end_ms) // 2
    params = {**where.params, "_mid": mid, "_lim": limit}
    return pool.dicts(
        "SELECT p.template_id AS template_id, t.template AS template, p.count AS count,"
        " p.example AS example, p.level AS level, p.first_half AS first_half,"
        " p.second_half AS second_half, p.first_ts AS first_ts, p.last_ts AS last_ts,"
        " p.clusters AS clusters FROM ("
        "SELECT template_id, count() AS count, any(body) AS example, any(level) AS level,"
        " countIf(timestamp < fromUnixTimestamp64Milli({_mid:Int64}, 'UTC')) AS first_half,"
        " countIf(timestamp >= fromUnixTimestamp64Milli({_mid:Int64}, 'UTC')) AS second_half,"
        " toUnixTimestamp64Milli(min(timestamp)) AS first_ts,"
        " toUnixTimestamp64Milli(max(timestamp)) AS last_ts, groupUniqArray(10)(cluster) AS"
        f" clusters FROM logs WHERE {where.sql} AND template_id != ''"
        " GROUP BY template_id ORDER BY count DESC, template_id LIMIT {_lim:UInt32}) AS p"
        # the text is a function of the id (its hash): any stream's row of it will do
        " LEFT JOIN (SELECT template_id, anyLast(template) AS template FROM log_templates"
        " GROUP BY template_id) AS t ON t.template_id = p.template_id"
        " ORDER BY count DESC, template_id", params)
