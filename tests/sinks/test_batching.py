"""Batch boundaries: rows, age, replay intents and dead-lettered offsets (in-memory sink)."""

from __future__ import annotations

from typing import Any

from connectors.sinks.base import Batch, BatchingSink, Intent, Record


class ListSink(BatchingSink):
    """A complete in-memory sink: rows are kept per token, a repeated token is ignored."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.stored: dict[str, list[Any]] = {}

    def setup(self) -> None:
        self.stored.clear()

    def decode(self, record: Record) -> tuple[Any, int]:
        return int(record.value or b"0"), int(record.value or b"0")

    def write(self, batch: Batch) -> None:
        self.stored.setdefault(batch.token("t"), [d for _, d in batch.items])


def rec(offset: int, rows: int = 1, partition: int = 0) -> Record:
    return Record("topic", partition, offset, None, str(rows).encode(), 0)


def feed(sink: ListSink, records: list[Record]) -> None:
    for r in records:
        decoded, rows = sink.decode(r)
        sink.add(r, decoded, rows)


def test_a_batch_seals_at_max_rows_and_names_its_offsets() -> None:
    sink = ListSink(max_rows=10, max_age_s=60)
    feed(sink, [rec(o, 4) for o in range(5)])
    ready = sink.ready(now=0)
    assert [(b.first_offset, b.last_offset, b.rows) for b in ready] == [(0, 2, 12)]
    assert ready[0].token("metrics") == "topic:0:0-2:metrics"


def test_age_seals_open_batches_and_partitions_batch_separately() -> None:
    sink = ListSink(max_rows=1000, max_age_s=1.0)
    feed(sink, [rec(0, partition=0), rec(0, partition=1), rec(1, partition=0)])
    opened = min(b.opened for b in sink.open.values())
    assert sink.ready(now=opened + 0.5) == []
    ready = sink.ready(now=opened + 1.5)
    assert sorted((b.partition, b.first_offset, b.last_offset) for b in ready) == [
        (0, 0, 1), (1, 0, 0)]


def test_a_replay_rebuilds_exactly_the_intended_batch() -> None:
    first = ListSink(max_rows=1000, max_age_s=1.0)
    feed(first, [rec(o) for o in range(10, 17)])
    written = first.ready(everything=True)[0]
    first.flush([written])
    # the crashed sink had committed offset 10 with intent [10, 16]; the replay reads
    # further this time (offsets 10..25) and must cut at 16 regardless of size or age
    replay = ListSink(max_rows=3, max_age_s=0.0)
    replay.stored = first.stored
    replay.set_intent(("topic", 0), Intent(10, 16))
    feed(replay, [rec(o) for o in range(10, 26)])
    batches = replay.ready(everything=True)
    assert (batches[0].first_offset, batches[0].last_offset) == (10, 16)
    assert batches[0].token("t") == written.token("t")
    assert all(b.first_offset > 16 for b in batches[1:])
    replay.flush(batches)
    rows = [r for v in replay.stored.values() for r in v]
    assert len(rows) == 16  # 10..25 once each, nothing twice


def test_an_intent_cut_short_by_retention_keeps_its_token() -> None:
    sink = ListSink(max_rows=1000, max_age_s=1.0)
    sink.set_intent(("topic", 0), Intent(5, 9))
    feed(sink, [rec(o) for o in range(7, 12)])  # 5 and 6 expired from the topic
    batch = sink.ready(everything=True)[0]
    assert batch.token("t") == "topic:0:5-9:t" and batch.last_offset == 9


def test_end_of_partition_completes_a_replay_with_missing_tail() -> None:
    sink = ListSink(max_rows=1000, max_age_s=0.0)
    sink.set_intent(("topic", 0), Intent(0, 9))
    feed(sink, [rec(o) for o in range(0, 5)])  # compaction removed 5..9
    assert sink.ready(now=1e12) == []  # age never cuts a replay
    sink.partition_eof(("topic", 0))
    assert [b.span for b in sink.ready()] == [Intent(0, 9)]


def test_dead_lettered_records_advance_the_batch_range() -> None:
    sink = ListSink(max_rows=1000, max_age_s=1.0)
    sink.add(rec(0), None, 0)
    sink.add(rec(1), None, 0)
    batch = sink.ready(everything=True)[0]
    assert (batch.first_offset, batch.last_offset, batch.items) == (0, 1, [])


def test_dropped_partitions_forget_their_batches() -> None:
    sink = ListSink(max_rows=2, max_age_s=10)
    feed(sink, [rec(o, partition=p) for p in (0, 1) for o in range(3)])
    sink.drop([("topic", 1)])
    assert {b.partition for b in sink.ready(everything=True)} == {0}


def test_intent_metadata_round_trips() -> None:
    assert Intent.decode(Intent(3, 99).encode()) == Intent(3, 99)
    assert Intent.decode("") is None and Intent.decode("something else") is None
