"""aiops.deadletter -> ``dead_letters``; an undecodable dead letter is stored as one itself."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from connectors.sinks.base import Record
from connectors.sinks.tables.base import MS, TableFamily, records_table
from schemas.errors import CodecError

SPEC = {
    "timestamp": ("ts", MS),
    "component": ("component", pa.string()),
    "stage": ("stage", pa.string()),
    "topic": ("topic", pa.string()),
    "partition": ("partition", pa.int32()),
    "offset": ("offset", pa.int64()),
    "error_type": ("error_type", pa.string()),
    "error": ("error", pa.string()),
    "key": (lambda r: r["key"] or b"", pa.binary()),
    "raw": ("raw", pa.binary()),
}


class DeadLettersFamily(TableFamily):
    """Dead letters never bounce: a bad one becomes a DECODE row about the DLQ topic."""

    schema = "dead_letter"
    tables = ("dead_letters",)

    def decode(self, record: Record) -> Any:
        try:
            return super().decode(record)
        except CodecError as exc:
            return {"topic": record.topic, "partition": record.partition,
                    "offset": record.offset, "key": record.key, "error": str(exc),
                    "error_type": type(exc).__name__, "stage": "DECODE", "component": "sink",
                    "raw": record.value or b"", "ts": int(time.time() * 1000)}

    def to_arrow(self, decoded: Sequence[dict[str, Any]]) -> dict[str, pa.Table]:
        return {"dead_letters": records_table(decoded, SPEC)}
