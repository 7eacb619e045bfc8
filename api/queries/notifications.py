"""The notifier's delivery log (``notification_deliveries``, ``notification_attempts``)."""

from __future__ import annotations

from typing import Any

from api.db import ClickHousePool
from api.queries.results import page_of
from api.queries.sql import Where

DELIVERY_COLS = ("idempotency_key, endpoint, endpoint_type, route, group_key, subject, event,"
                 " cluster, severity, state, attempts,"
                 " toUnixTimestamp64Milli(created_ts) AS created_ts,"
                 " toUnixTimestamp64Milli(updated_ts) AS updated_ts,"
                 " toUnixTimestamp64Milli(next_attempt_ts) AS next_attempt_ts,"
                 " toUnixTimestamp64Milli(delivered_ts) AS delivered_ts, last_error")
ATTEMPT_COLS = ("toUnixTimestamp64Milli(timestamp) AS timestamp, idempotency_key, endpoint,"
                " endpoint_type, kind, route, subject, event, cluster, attempt, status,"
                " http_status, latency_ms, error, worker")


def log_filters(*, clusters: list[str] | None, start_ms: int, end_ms: int, time_column: str,
                endpoint: str | None = None, subject: str | None = None,
                key: str | None = None, event: str | None = None,
                states: list[str] | None = None, state_column: str = "state") -> Where:
    """Scope, time range and the equality filters both tables share."""
    w = Where()
    w.clusters(clusters)
    w.time_range(time_column, start_ms, end_ms)
    for column, value in (("endpoint", endpoint), ("subject", subject),
                          ("idempotency_key", key), ("event", event)):
        if value is not None:
            w.add(f"{column} = {{}}", value, "String")
    w.any_of(state_column, states)
    return w


def deliveries(pool: ClickHousePool, *, where: Where, offset: int, limit: int
               ) -> tuple[list[dict[str, Any]], int]:
    return page_of(pool, table="notification_deliveries", columns=DELIVERY_COLS, where=where,
                   order="created_ts DESC, idempotency_key", offset=offset, limit=limit)


def attempts(pool: ClickHousePool, *, where: Where, offset: int, limit: int
             ) -> tuple[list[dict[str, Any]], int]:
    return page_of(pool, table="notification_attempts", columns=ATTEMPT_COLS, where=where,
                   order="timestamp DESC, idempotency_key, attempt", offset=offset,
                   limit=limit, final=False)
