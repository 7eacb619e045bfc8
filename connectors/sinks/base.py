"""The batching-sink interface: ``setup()`` / ``add()`` / ``flush()``.

A sink keeps one open batch per (topic, partition). A batch is *sealed* when it
holds ``max_rows`` rows, is ``max_age_s`` old, or reaches the end of a replay
*intent* (the exact offset range a crashed predecessor was writing, read back
from the Kafka commit metadata). Sealed batches are flushed in offset order per
partition; each carries a deterministic insert deduplication token built from
its topic, partition and offset range, so a replay writes nothing twice.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PartitionKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka message as the sink sees it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Intent:
    """An offset range [first, last] that must be rebuilt exactly as one batch."""

    first: int
    last: int

    def encode(self) -> str:
        return f"aiops-sink intent {self.first} {self.last}"

    @classmethod
    def decode(cls, metadata: str | None) -> Intent | None:
        parts = (metadata or "").split()
        if len(parts) == 4 and parts[:2] == ["aiops-sink", "intent"]:
            return cls(int(parts[2]), int(parts[3]))
        return None


@dataclass(eq=False)
class Batch:
    """Decoded records of one partition, in offset order, written as one unit."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int = -1
    items: list[tuple[Record, Any]] = field(default_factory=list)
    rows: int = 0
    opened: float = field(default_factory=time.monotonic)
    intent: Intent | None = None

    @property
    def key(self) -> PartitionKey:
        return (self.topic, self.partition)

    @property
    def span(self) -> Intent:
        """The offset range the batch stands for (the intent's when replaying)."""
        return self.intent or Intent(self.first_offset, self.last_offset)

    def token(self, table: str) -> str:
        """Insert deduplication token of this batch's rows in ``table``."""
        span = self.span
        return f"{self.topic}:{self.partition}:{span.first}-{span.last}:{table}"


class BatchingSink(ABC):
    """Per-partition batching; subclasses decode records and write batches."""

    def __init__(self, max_rows: int = 100_000, max_age_s: float = 1.0) -> None:
        self.max_rows = max_rows
        self.max_age_s = max_age_s
        self.open: dict[PartitionKey, Batch] = {}
        self.sealed: list[Batch] = []
        self.intents: dict[PartitionKey, Intent] = {}

    @abstractmethod
    def setup(self) -> None:
        """Prepare the destination (tables, connections)."""

    @abstractmethod
    def decode(self, record: Record) -> tuple[Any, int]:
        """(decoded record, row count); raises ``schemas.errors.CodecError`` when bad."""

    @abstractmethod
    def write(self, batch: Batch) -> None:
        """Durably write one batch (idempotent by its tokens); raise on failure."""

    # -- batching ------------------------------------------------------------
    def set_intent(self, key: PartitionKey, intent: Intent | None) -> None:
        """Replay ``intent`` for ``key`` (from the committed offset's metadata)."""
        if intent is None:
            self.intents.pop(key, None)
        else:
            self.intents[key] = intent

    def add(self, record: Record, decoded: Any | None, rows: int) -> None:
        """Append a record to its partition's open batch (sealing as needed).

        ``decoded=None`` marks a dead-lettered record: it writes no rows but its
        offset still belongs to the batch, so the commit moves past it.
        """
        key = (record.topic, record.partition)
        batch = self.open.get(key)
        if batch is not None and batch.intent and record.offset > batch.intent.last:
            self._seal(key)
            batch = None
        if batch is None:
            batch = Batch(record.topic, record.partition, record.offset)
            intent = self.intents.pop(key, None)
            if intent is not None and intent.first <= record.offset <= intent.last:
                batch.intent = intent
            self.open[key] = batch
        if decoded is not None:
            batch.items.append((record, decoded))
        batch.last_offset = record.offset
        batch.rows += rows
        if batch.intent is not None:
            if record.offset >= batch.intent.last:
                self._seal(key)
        elif batch.rows >= self.max_rows:
            self._seal(key)

    def partition_eof(self, key: PartitionKey) -> None:
        """Nothing more to read for now: a replay batch is complete."""
        batch = self.open.get(key)
        if batch is not None and batch.intent is not None:
            self._seal(key)
        self.intents.pop(key, None)

    def _seal(self, key: PartitionKey) -> None:
        batch = self.open.pop(key, None)
        if batch is not None:
            self.sealed.append(batch)

    def ready(self, now: float | None = None, everything: bool = False) -> list[Batch]:
        """Sealed batches plus open ones older than ``max_age_s`` (all when ``everything``)."""
        now = time.monotonic() if now is None else now
        for key, batch in list(self.open.items()):
            if everything or (batch.intent is None and now - batch.opened >= self.max_age_s):
                self._seal(key)
        return list(self.sealed)

    def done(self, batch: Batch) -> None:
        """Forget a batch that was written (it may be gone already: revoked meanwhile)."""
        self.sealed = [b for b in self.sealed if b is not batch]

    def drop(self, keys: Iterable[PartitionKey]) -> None:
        """Forget pending work of revoked partitions (the next owner replays it)."""
        gone = set(keys)
        for key in gone:
            self.open.pop(key, None)
            self.intents.pop(key, None)
        self.sealed = [b for b in self.sealed if b.key not in gone]

    def flush(self, batches: list[Batch]) -> list[Batch]:
        """Write ``batches`` in order; returns those written (stops at the first failure)."""
        written = []
        for batch in batches:
            self.write(batch)
            self.done(batch)
            written.append(batch)
        return written

    @property
    def pending_rows(self) -> int:
        return sum(b.rows for b in self.open.values()) + sum(b.rows for b in self.sealed)
