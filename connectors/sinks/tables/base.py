"""One table family per topic: decode its records and build Arrow tables per ClickHouse table."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from connectors.sinks.base import PartitionKey, Record
from schemas.codec import Codec
from schemas.errors import CodecError

MS = pa.timestamp("ms", tz="UTC")
NS = pa.timestamp("ns", tz="UTC")
STR_MAP = pa.map_(pa.string(), pa.string())


class EmptyPayloadError(CodecError):
    """A record without a value where the topic needs one."""


class InvalidRecordError(ValueError):
    """A decodable record whose content cannot be stored (e.g. ragged columns)."""


def check_columns(record: dict[str, Any], fields: Sequence[str]) -> int:
    """The common length of a columnar record's arrays; raises when they differ."""
    lengths = {f: len(record[f]) for f in fields}
    if len(set(lengths.values())) > 1:
        raise InvalidRecordError(f"columns have different lengths: {lengths}")
    return next(iter(lengths.values()))


class TableFamily(ABC):
    """Decodes one schema's records and converts a batch of them to Arrow tables."""

    schema: str = ""
    tables: tuple[str, ...] = ()
    untokened: tuple[str, ...] = ()  # idempotent by their engine: inserted without a token

    def __init__(self) -> None:
        self.codec = Codec(self.schema)

    def decode(self, record: Record) -> Any:
        """The decoded record; raises ``CodecError`` for bad input."""
        if record.value is None:
            raise EmptyPayloadError(f"{record.topic}: empty payload (tombstone)")
        return self.codec.decode(record.value)

    def rows(self, decoded: Any) -> int:
        """How many table rows a decoded record yields (for batch sizing)."""
        return 1

    def prepare(self, decoded: Sequence[Any], client: Callable[[], Client], database: str
                ) -> None:
        """Before ``to_arrow`` of a batch, outside per-record error handling: families with
        durable state (log templates) load and advance it here (``client()`` gives the
        caller's ClickHouse client); raising pauses the sink and retries the batch, it never
        rejects records."""
        return None

    def forget(self, keys: Iterable[PartitionKey]) -> None:
        """Partitions were revoked: drop state kept for them (the next owner restores it)."""
        return None

    @abstractmethod
    def to_arrow(self, decoded: Sequence[Any]) -> dict[str, pa.Table]:
        """Arrow tables keyed by ClickHouse table name, in insert order (empty ones left out)."""

    def acknowledged(self, table: str, data: pa.Table) -> None:
        """ClickHouse acknowledged ``data`` in ``table`` (hook for families that track it)."""
        return None

    def released(self, table: str, data: pa.Table) -> None:
        """Inserting ``data`` into ``table`` failed; it will be converted again."""
        return None


def column(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    """An Arrow array from Python values."""
    return pa.array(values, type=type_)


def ms_array(values: Sequence[int] | np.ndarray) -> pa.Array:
    """Epoch-millisecond integers as a UTC timestamp array."""
    return pa.array(np.asarray(values, dtype=np.int64), type=pa.int64()).cast(MS)


def ns_array(values: Sequence[int] | np.ndarray) -> pa.Array:
    """Epoch-nanosecond integers as a UTC timestamp array."""
    return pa.array(np.asarray(values, dtype=np.int64), type=pa.int64()).cast(NS)


def nullable_ms(values: Sequence[int | None]) -> pa.Array:
    return pa.array(values, type=pa.int64()).cast(MS)


def records_table(decoded: Sequence[dict[str, Any]], spec: dict[str, tuple[Any, pa.DataType]],
                  ) -> pa.Table:
    """A table from one-row-per-record dicts; spec: column -> (field name or getter, type)."""
    cols = {}
    for name, (source, type_) in spec.items():
        getter = source if callable(source) else (lambda r, f=source: r[f])
        values = [getter(r) for r in decoded]
        if type_ == MS:
            cols[name] = nullable_ms(values)
        else:
            cols[name] = pa.array(values, type=type_)
    return pa.table(cols)
