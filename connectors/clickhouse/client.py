"""Build clickhouse-connect clients from a URL (the only way our code talks to ClickHouse)."""

from __future__ import annotations

from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client


def connect(url: str, database: str | None = None, **settings: object) -> Client:
    """A client for ``http://user:pass@host:port``; ``database`` is selected if given."""
    parts = urlsplit(url)
    return clickhouse_connect.get_client(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (8443 if parts.scheme == "https" else 8123),
        username=parts.username or "default",
        password=parts.password or "",
        secure=parts.scheme == "https",
        database=database or "",
        connect_timeout=5,
        send_receive_timeout=120,
        settings=settings or None,
    )
