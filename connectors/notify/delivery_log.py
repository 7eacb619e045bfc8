"""The delivery log in ClickHouse: every attempt, and the durable state of every delivery.

``notification_deliveries`` is the notifier's memory across restarts: a delivery is
written PENDING before the input offset is committed, and its idempotency key is
checked before anything new is queued, so a replayed input sends nothing twice.
``list_attempts`` / ``list_deliveries`` are the plain functions the API calls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from connectors.notify.delivery import AttemptResult
from connectors.notify.notification import Notification

TERMINAL = ("DELIVERED", "DEAD", "MUTED", "THROTTLED", "SUPERSEDED")
ATTEMPT_COLUMNS = ["timestamp", "idempotency_key", "endpoint", "endpoint_type", "kind", "route",
                   "subject", "event", "cluster", "attempt", "status", "http_status",
                   "latency_ms", "error", "worker"]
DELIVERY_COLUMNS = ["idempotency_key", "endpoint", "endpoint_type", "route", "group_key",
                    "subject", "event", "cluster", "severity", "state", "attempts", "created_ts",
                    "updated_ts", "next_attempt_ts", "delivered_ts", "last_error",
                    "notification", "version"]


def _dt(ms: int | float | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Delivery:
    """One notification for one endpoint, and where it stands."""

    key: str
    endpoint: str
    endpoint_type: str
    route: str
    group_key: str
    note: Notification
    state: str = "PENDING"
    attempts: int = 0
    created_ms: int = field(default_factory=now_ms)
    next_attempt_ms: int = field(default_factory=now_ms)
    delivered_ms: int | None = None
    last_error: str = ""

    def row(self) -> list[Any]:
        n = self.note
        return [self.key, self.endpoint, self.endpoint_type, self.route, self.group_key,
                n.subject, n.event, n.cluster, n.severity, self.state, self.attempts,
                _dt(self.created_ms), _dt(now_ms()), _dt(self.next_attempt_ms),
                _dt(self.delivered_ms), self.last_error[:2000], n.to_json(), time.time_ns()]


class DeliveryLog:
    """Reads and writes the notifier's tables in ``database``."""

    def __init__(self, client: Client, database: str, worker: str = "") -> None:
        self.client = client
        self.db = database
        self.worker = worker

    def save(self, deliveries: list[Delivery]) -> None:
        """Upsert the current state of ``deliveries`` (synchronous, durable on return)."""
        if deliveries:
            self.client.insert(f"`{self.db}`.notification_deliveries",
                               [d.row() for d in deliveries], column_names=DELIVERY_COLUMNS)

    def attempt_row(self, d: Delivery, result: AttemptResult, *, kind: str = "deliver",
                    attempt: int | None = None) -> list[Any]:
        """The row recording one attempt (write with :meth:`attempts`)."""
        n = d.note
        return [_dt(now_ms()), d.key, d.endpoint, d.endpoint_type, kind, d.route, n.subject,
                n.event, n.cluster, d.attempts if attempt is None else attempt, result.status,
                result.http_status, result.latency_ms, result.error[:2000], self.worker]

    def attempts(self, rows: list[list[Any]]) -> None:
        """Record attempts (synchronous insert)."""
        if rows:
            self.client.insert(f"`{self.db}`.notification_attempts", rows,
                               column_names=ATTEMPT_COLUMNS)

    def known(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` already have a delivery (any state)."""
        if not keys:
            return set()
        rows = self.client.query(
            f"SELECT DISTINCT idempotency_key FROM `{self.db}`.notification_deliveries "
            "WHERE idempotency_key IN {keys:Array(String)}", parameters={"keys": keys}
        ).result_rows
        return {r[0] for r in rows}

    def _load(self, where: str) -> list[Delivery]:
        rows = self.client.query(
            "SELECT idempotency_key, endpoint, endpoint_type, route, group_key, state, attempts,"
            " created_ts, next_attempt_ts, delivered_ts, last_error, notification"
            f" FROM `{self.db}`.notification_deliveries FINAL WHERE {where}"
            " ORDER BY created_ts").result_rows
        return [Delivery(key=r[0], endpoint=r[1], endpoint_type=r[2], route=r[3],
                         group_key=r[4], state=r[5], attempts=int(r[6]),
                         created_ms=_ms(r[7]) or 0, next_attempt_ms=_ms(r[8]) or 0,
                         delivered_ms=_ms(r[9]), last_error=r[10],
                         note=Notification.from_json(r[11])) for r in rows]

    def pending(self) -> list[Delivery]:
        """Deliveries still to be made (resumed after a restart)."""
        return self._load("state = 'PENDING'")

    def open_delivered(self) -> list[Delivery]:
        """Latest delivered notification per (endpoint, subject) whose subject still fires."""
        latest = self._load(
            "state = 'DELIVERED' AND (endpoint, subject, updated_ts) IN ("
            " SELECT endpoint, subject, max(updated_ts) FROM "
            f"`{self.db}`.notification_deliveries FINAL WHERE state = 'DELIVERED'"
            " GROUP BY endpoint, subject)")
        return [d for d in latest if d.note.firing]


def list_attempts(client: Client, database: str, *, endpoint: str | None = None,
                  subject: str | None = None, key: str | None = None,
                  status: str | None = None, since_ms: int | None = None,
                  limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Delivery attempts, newest first (for the API)."""
    where, params = _filters(endpoint=endpoint, subject=subject, idempotency_key=key,
                             status=status, since_ms=since_ms, time_column="timestamp")
    result = client.query(
        f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM `{database}`.notification_attempts"
        f" WHERE {where} ORDER BY timestamp DESC LIMIT {int(limit)} OFFSET {int(offset)}",
        parameters=params)
    return [_jsonable(dict(zip(result.column_names, r, strict=True)))
            for r in result.result_rows]


def list_deliveries(client: Client, database: str, *, endpoint: str | None = None,
                    subject: str | None = None, state: str | None = None,
                    since_ms: int | None = None, limit: int = 100,
                    offset: int = 0) -> list[dict[str, Any]]:
    """Current state of deliveries, newest first (for the API)."""
    cols = [c for c in DELIVERY_COLUMNS if c != "version"]
    where, params = _filters(endpoint=endpoint, subject=subject, state=state,
                             since_ms=since_ms, time_column="created_ts")
    result = client.query(
        f"SELECT {', '.join(cols)} FROM `{database}`.notification_deliveries FINAL"
        f" WHERE {where} ORDER BY created_ts DESC LIMIT {int(limit)} OFFSET {int(offset)}",
        parameters=params)
    return [_jsonable(dict(zip(result.column_names, r, strict=True)))
            for r in result.result_rows]


def _filters(*, time_column: str, since_ms: int | None, **equal: str | None
             ) -> tuple[str, dict[str, Any]]:
    clauses, params = ["1"], {}
    for column, value in equal.items():
        if value is not None:
            clauses.append(f"{column} = {{{column}:String}}")
            params[column] = value
    if since_ms is not None:
        clauses.append(f"{time_column} >= fromUnixTimestamp64Milli({{since:Int64}})")
        params["since"] = int(since_ms)
    return " AND ".join(clauses), params


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (_ms(v) if isinstance(v, datetime) else v) for k, v in row.items()}
