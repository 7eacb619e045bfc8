"""The ClickHouse history sink: Arrow inserts with per-batch deduplication tokens.

Each batch of one (topic, partition) becomes one ``insert_arrow`` per target table
with ``insert_deduplication_token = <topic>:<partition>:<first>-<last>:<table>``.
The tables keep ``non_replicated_deduplication_window`` blocks of tokens, so when
a crashed sink replays a batch with the same offset range (rebuilt exactly from
the intent stored in the Kafka commit metadata), ClickHouse drops the duplicate
block and the materialized rollups never see it.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pyarrow as pa
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import migrate
from connectors.sinks.base import Batch, BatchingSink, PartitionKey, Record
from connectors.sinks.retention import apply_ttls
from connectors.sinks.tables.base import TableFamily
from streams.logs_setup import get_logger

log = get_logger(__name__)

# optimize_on_insert = 0: `series` (and, measured with the insert-time rollup views that
# migration 0041 replaced by the rollup builder, their AggregatingMergeTree targets)
# leaves equal keys of one insert to background merges instead of sorting and merging
# every inserted block (readers aggregate by key anyway): ~15 % less ClickHouse CPU per
# sample when every batch brings each series once (docs/history.md).
INSERT_SETTINGS = {
    "max_partitions_per_insert_block": 1000,
    "insert_deduplicate": 1,
    "async_insert": 0,
    "optimize_on_insert": 0,
}

# Server errors that mean "this data cannot be stored" (not "try again later"):
# CANNOT_PARSE_*, TYPE_MISMATCH, INCORRECT_DATA, VALUE_IS_OUT_OF_RANGE ... .
DATA_ERRORS = frozenset({6, 27, 38, 41, 53, 69, 70, 72, 117, 131, 321, 349, 36})
CODE_RE = re.compile(r"Code: (\d+)\.")

Reject = Callable[[Record, Exception, str], None]


class ClickHouseSink(BatchingSink):
    """Writes batches of decoded records to their family's ClickHouse tables."""

    def __init__(
        self,
        url: str,
        database: str,
        families: Mapping[str, TableFamily],
        *,
        max_rows: int = 100_000,
        max_age_s: float = 1.0,
        ttl_days: Mapping[str, int] | None = None,
        reject: Reject | None = None,
        telemetry: Any | None = None,
    ) -> None:
        super().__init__(max_rows, max_age_s)
        self.url = url
        self.database = database
        self.families = dict(families)
        self.ttl_days = dict(ttl_days or {})
        self.reject = reject or (lambda record, exc, stage: None)
        self.telemetry = telemetry
        self._local = threading.local()
        self._clients: list[Client] = []
        self._lock = threading.Lock()

    @property
    def client(self) -> Client:
        """This thread's client (inserts of different partitions run in parallel)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = connect(self.url)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def reconnect(self) -> None:
        """Drop every client so the next writes open fresh connections."""
        with self._lock:
            clients, self._clients = self._clients, []
            self._local = threading.local()
        for client in clients:
            with contextlib.suppress(Exception):  # the server may be gone
                client.close()

    def setup(self) -> None:
        """Apply migrations and the configured TTLs."""
        ran = migrate(self.client, self.database)
        changed = apply_ttls(self.client, self.database, self.ttl_days) if self.ttl_days else []
        log.info("sink tables ready", database=self.database,
                 migrations=[m.name for m in ran], ttl_changed=changed)

    def decode(self, record: Record) -> tuple[Any, int]:
        family = self.families[record.topic]
        decoded = family.decode(record)
        return decoded, family.rows(decoded)

    def convert(self, batch: Batch) -> dict[str, pa.Table]:
        """Arrow tables for a batch; records that fail conversion are rejected one by one."""
        family = self.families[batch.topic]
        decoded = [d for _, d in batch.items]
        if not decoded:
            return {}
        # raising pauses the sink (the batch is retried), it never rejects records
        family.prepare(decoded, lambda: self.client, self.database)
        try:
            return family.to_arrow(decoded)
        except Exception:  # noqa: BLE001 - find the culprits below
            log.warning("batch conversion failed; converting record by record",
                        topic=batch.topic, partition=batch.partition)
        good = []
        for record, item in batch.items:
            try:
                family.to_arrow([item])
            except Exception as exc:  # noqa: BLE001 - any failure rejects the record
                self.reject(record, exc, "PROCESS")
                continue
            good.append((record, item))
        batch.items = good
        return family.to_arrow([d for _, d in good]) if good else {}

    def drop(self, keys: Iterable[PartitionKey]) -> None:
        """Forget pending work and family state of revoked partitions."""
        keys = list(keys)
        super().drop(keys)
        for family in self.families.values():
            family.forget(keys)

    def write(self, batch: Batch) -> None:
        self.insert(batch, self.convert(batch))

    def insert(self, batch: Batch, tables: dict[str, pa.Table]) -> None:
        """Insert a converted batch (thread-safe across batches of different partitions)."""
        family = self.families[batch.topic]
        pending = dict(tables)
        try:
            for table, data in tables.items():
                token = None if table in family.untokened else batch.token(table)
                try:
                    self._insert(table, data, token)
                except DatabaseError as exc:
                    if error_code(exc) not in DATA_ERRORS:
                        raise
                    self._insert_one_by_one(batch, table, exc)
                family.acknowledged(table, pending.pop(table))
        finally:
            for table, data in pending.items():
                family.released(table, data)

    def _insert(self, table: str, data: pa.Table, token: str | None) -> None:
        if not data.num_rows:
            return
        started = time.perf_counter()
        settings = ({**INSERT_SETTINGS, "insert_deduplication_token": token} if token
                    else {**INSERT_SETTINGS, "insert_deduplicate": 0})
        self.client.insert_arrow(f"`{self.database}`.`{table}`", data, settings=settings)
        if self.telemetry is not None:
            self.telemetry.inserted(table, data.num_rows, time.perf_counter() - started)

    def _insert_one_by_one(self, batch: Batch, table: str, exc: Exception) -> None:
        """ClickHouse refused the batch's data: insert record by record, reject the culprits.

        Tokens get the record's offset, so a replay of this batch dedups the same way.
        """
        log.warning("ClickHouse refused a batch; inserting record by record",
                    table=table, topic=batch.topic, partition=batch.partition,
                    error=str(exc)[:300])
        family = self.families[batch.topic]
        for record, item in batch.items:
            data = family.to_arrow([item]).get(table)
            if data is None:
                continue
            token = None if table in family.untokened else f"{batch.token(table)}:{record.offset}"
            try:
                self._insert(table, data, token)
            except DatabaseError as one:
                if error_code(one) not in DATA_ERRORS:
                    raise
                self.reject(record, one, "SINK")


def error_code(exc: Exception) -> int | None:
    """ClickHouse's numeric error code in an exception message, if any."""
    match = CODE_RE.search(str(exc))
    return int(match.group(1)) if match else None
