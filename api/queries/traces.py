"""Trace search, trace by id (span tree), services, operations, dependency graph."""

from __future__ import annotations

from typing import Any

from api.db import ClickHousePool
from api.queries.sql import Where

SPAN_COLS = ("cluster, trace_id, span_id, parent_span_id, service, operation, kind,"
             " toUnixTimestamp64Nano(timestamp) AS start_ns, duration_ns, status_code,"
             " status_message, namespace, attributes, resources")


def search(pool: ClickHousePool, *, where: Where, offset: int, limit: int
           ) -> tuple[list[dict[str, Any]], int]:
    """Traces with at least one span matching ``where`` (newest first)."""
    total = pool.rows(f"SELECT uniqExact(trace_id, cluster) FROM spans WHERE {where.sql}",
                      where.params)[0][0]
    rows = pool.dicts(
        "SELECT trace_id, cluster, toUnixTimestamp64Nano(min(timestamp)) AS start_ns,"
        " max(duration_ns) AS max_duration_ns, count() AS matched_spans,"
        " groupUniqArray(service) AS services, any(operation) AS operation,"
        " countIf(status_code = 'ERROR') > 0 AS error"
        f" FROM spans WHERE {where.sql} GROUP BY trace_id, cluster ORDER BY start_ns DESC"
        " LIMIT {_lim:UInt32} OFFSET {_off:UInt64}",
        {**where.params, "_lim": limit, "_off": offset})
    return rows, int(total)


def trace(pool: ClickHousePool, *, trace_id: str, clusters: list[str] | None
          ) -> list[dict[str, Any]]:
    w = Where()
    w.add("trace_id = {}", trace_id, "String")
    w.clusters(clusters)
    return pool.dicts(f"SELECT {SPAN_COLS} FROM spans WHERE {w.sql} ORDER BY timestamp "
                      "LIMIT 20000", w.params)


def span_tree(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nest spans under their parents; orphans become roots.

    >>> t = span_tree([{"span_id": "a", "parent_span_id": ""},
    ...                {"span_id": "b", "parent_span_id": "a"}])
    >>> t[0]["span_id"], t[0]["children"][0]["span_id"]
    ('a', 'b')
    """
    nodes = {s["span_id"]: {**s, "children": []} for s in spans}
    roots = []
    for s in spans:
        node = nodes[s["span_id"]]
        parent = nodes.get(s["parent_span_id"])
        if parent is not None and parent is not node:
            parent["children"].append(node)
        else:
            roots.append(node)
    return roots


def services(pool: ClickHousePool, *, clusters: list[str] | None, start_ms: int, end_ms: int
             ) -> list[dict[str, Any]]:
    w = Where()
    w.clusters(clusters)
    w.time_range("timestamp", start_ms, end_ms)
    return pool.dicts(
        "SELECT cluster, service, count() AS spans, countIf(status_code = 'ERROR') AS errors,"
        f" quantile(0.95)(duration_ns) AS p95_ns FROM spans WHERE {w.sql}"
        " GROUP BY cluster, service ORDER BY cluster, service LIMIT 10000", w.params)


def operations(pool: ClickHousePool, *, clusters: list[str] | None, service: str | None,
               start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    w = Where()
    w.clusters(clusters)
    w.time_range("timestamp", start_ms, end_ms)
    if service:
        w.add("service = {}", service, "String")
    return pool.dicts(
        "SELECT cluster, service, operation, count() AS spans FROM spans"
        f" WHERE {w.sql} GROUP BY cluster, service, operation"
        " ORDER BY cluster, service, operation LIMIT 10000", w.params)


def dependencies(pool: ClickHousePool, *, clusters: list[str] | None, start_ms: int,
                 end_ms: int) -> list[dict[str, Any]]:
    w = Where()
    w.clusters(clusters)
    w.time_range("timestamp", start_ms, end_ms)
    return pool.dicts(
        "SELECT cluster, parent_service AS parent, child_service AS child, sum(calls) AS calls,"
        " sum(errors) AS errors, sum(duration_ns_sum) AS duration_ns_sum FROM service_edges"
        f" WHERE {w.sql} GROUP BY cluster, parent, child ORDER BY cluster, parent, child"
        " LIMIT 10000", w.params)
