"""The operator-managed routing store: the YAML file, overridden by documents saved in ClickHouse.

The newest row of ``notification_routing`` wins; an empty document reverts to the file.
``read_routes`` / ``save_routes`` / ``reset_routes`` are the plain functions the API
(operator role) calls; the notifier re-reads the effective document periodically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clickhouse_connect.driver.client import Client

from connectors.notify.routing import RoutingConfig, parse_routes


@dataclass(frozen=True)
class RoutingDocument:
    """The effective routing document and where it came from."""

    text: str
    source: str  # "clickhouse", "file" or "empty"
    updated_ms: int | None = None
    actor: str = ""

    def config(self) -> RoutingConfig:
        return parse_routes(self.text)


def read_routes(client: Client | None, database: str, path: Path | None) -> RoutingDocument:
    """The effective document: the latest saved override, else the file, else empty."""
    if client is not None:
        rows = client.query(
            f"SELECT document, updated_ts, actor FROM `{database}`.notification_routing"
            " ORDER BY updated_ts DESC LIMIT 1").result_rows
        if rows and rows[0][0].strip():
            ts = rows[0][1].replace(tzinfo=UTC) if rows[0][1].tzinfo is None else rows[0][1]
            return RoutingDocument(rows[0][0], "clickhouse", int(ts.timestamp() * 1000),
                                   rows[0][2])
    if path is not None and Path(path).exists():
        return RoutingDocument(Path(path).read_text(), "file")
    return RoutingDocument("endpoints: []\nroutes: []\n", "empty")


def save_routes(client: Client, database: str, text: str, actor: str) -> RoutingConfig:
    """Validate and store ``text`` as the new override; raises RoutingError when invalid."""
    config = parse_routes(text)
    _store(client, database, text, actor)
    return config


def reset_routes(client: Client, database: str, actor: str) -> None:
    """Drop the override: the YAML file applies again."""
    _store(client, database, "", actor)


def _store(client: Client, database: str, text: str, actor: str) -> None:
    """Append a revision stamped after the newest one (two saves in one ms stay ordered)."""
    latest = client.query(f"SELECT max(updated_ts) FROM `{database}`.notification_routing"
                          ).result_rows[0][0]
    when = datetime.now(UTC)
    if latest is not None:
        latest = latest.replace(tzinfo=UTC) if latest.tzinfo is None else latest
        when = max(when, latest + timedelta(milliseconds=1))
    client.insert(f"`{database}`.notification_routing", [[when, actor, text]],
                  column_names=["updated_ts", "actor", "document"])
