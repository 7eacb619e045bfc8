"""A small pool of ClickHouse clients: one query per client at a time (no shared sessions)."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from clickhouse_connect.driver.client import Client

from connectors.clickhouse.client import connect

# Output aliases reuse column names (``argMax(model, ts) AS model``, ``... AS opened_ts``):
# WHERE and GROUP BY must still mean the stored columns.
QUERY_SETTINGS = {"prefer_column_name_to_alias": 1}


class ClickHousePool:
    """``size`` clients on ``url``/``database``; ``query`` borrows one per call."""

    def __init__(self, url: str, database: str, size: int = 8) -> None:
        self.url = url
        self.database = database
        self._idle: queue.LifoQueue[Client] = queue.LifoQueue()
        self._size = size
        self._made = 0
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, list[tuple]]] = {}

    @contextmanager
    def client(self) -> Iterator[Client]:
        try:
            c = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                grow = self._made < self._size
                self._made += grow
            c = connect(self.url, self.database) if grow else self._idle.get(timeout=30)
        try:
            yield c
        finally:
            self._idle.put(c)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        """Result rows of a parameterised query."""
        with self.client() as c:
            return c.query(sql, parameters=params or {}, settings=QUERY_SETTINGS).result_rows

    def columns(self, sql: str, params: dict[str, Any] | None = None) -> list[np.ndarray]:
        """Result columns as numpy arrays (Arrow transfer: no per-value Python objects)."""
        with self.client() as c:
            table = c.query_arrow(sql, parameters=params or {}, settings=QUERY_SETTINGS)
        return [col.to_numpy(zero_copy_only=False) for col in table.columns]

    def cached_rows(self, sql: str, params: dict[str, Any] | None = None,
                    ttl_s: float = 10.0) -> list[tuple]:
        """``rows`` remembered for ``ttl_s`` (slow-changing lookups such as the series index)."""
        key = sql + "\x00" + json.dumps(params or {}, sort_keys=True, default=str)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit and now - hit[0] < ttl_s:
            return hit[1]
        rows = self.rows(sql, params)
        if len(self._cache) > 1024:
            self._cache.clear()
        self._cache[key] = (now, rows)
        return rows

    def dicts(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        with self.client() as c:
            result = c.query(sql, parameters=params or {}, settings=QUERY_SETTINGS)
            names = result.column_names
            return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        with self.client() as c:
            c.insert(table, list(rows), column_names=list(columns))

    def ping(self) -> bool:
        try:
            with self.client() as c:
                return bool(c.ping())
        except Exception:  # noqa: BLE001 - readiness only
            return False

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
