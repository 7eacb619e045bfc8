"""Replay of the relayed topics between two positions, for resuming live streams.

A resuming client names where it stopped (an event id, or a time); the stream
subscribes to the hub first and takes the hub's position at that instant as the
end of the replay, so replayed events stop exactly where live ones begin: no gap
and no duplicate at the switch-over. Records between the two positions are read
with a private consumer (assigned partitions, no group offsets), filtered like live
events, and merged across partitions by Kafka timestamp (each partition keeps its
own order). Each replayed event carries the position after it as its id.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from api.cursor import CursorCodec, CursorError, Positions
from api.live import Event, Filters, RecordDecoder
from streams.kafka.clients import make_consumer

CONSUME_BATCH = 500


class ReplayError(Exception):
    """The position cannot be replayed; ``status``/``code`` go into the error envelope."""

    def __init__(self, status: int, code: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


@dataclass(frozen=True)
class ReplayLimits:
    max_events: int
    max_age_s: float
    timeout_s: float = 15.0


def parse_since(text: str) -> int:
    """``since`` as epoch ms: digits are epoch milliseconds, anything else ISO 8601.

    >>> parse_since("1700000000000")
    1700000000000
    >>> parse_since("2023-11-14T22:13:20Z")
    1700000000000
    """
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReplayError(400, "bad_request", "since must be epoch milliseconds or ISO 8601",
                          since=text) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


class Replayer:
    """Reads [start, stop) of the relayed topics for one resuming client."""

    def __init__(self, bootstrap: str, routes: dict[str, tuple[str, str]], codec: CursorCodec,
                 limits: ReplayLimits) -> None:
        self.bootstrap = bootstrap
        self.routes = routes
        self.codec = codec
        self.limits = limits

    def decode(self, last_event_id: str) -> Positions:
        try:
            return self.codec.decode(last_event_id.strip())
        except CursorError as exc:
            raise ReplayError(400, "bad_request", f"invalid Last-Event-ID: {exc}") from exc

    def replay(self, stop: Positions, filters: Filters, *, last_event_id: str | None = None,
               since_ms: int | None = None) -> list[Event]:
        """Events after ``last_event_id`` (or from ``since_ms``) up to ``stop``, filtered."""
        wanted = self.decode(last_event_id) if last_event_id is not None else None
        if wanted is not None and all(wanted.get(tp) == end for tp, end in stop.items()):
            return []  # nothing missed: no consumer needed
        consumer = make_consumer(self.bootstrap, f"aiops-api-replay-{time.time_ns()}", **{
            "enable.partition.eof": True, "fetch.wait.max.ms": 10})
        try:
            if wanted is not None:
                start = self._check_id(consumer, wanted, stop)
            else:
                assert since_ms is not None
                start = self._from_time(consumer, since_ms, stop)
            span = sum(stop[tp] - start[tp] for tp in stop)
            if span > self.limits.max_events:
                raise ReplayError(
                    410, "replay_window_exceeded",
                    f"{span} events were relayed since that position; at most "
                    f"{self.limits.max_events} are replayed (reconnect without a position, "
                    "and read history from the REST API)",
                    events=span, max_events=self.limits.max_events)
            return self._read(consumer, start, stop, filters)
        except KafkaException as exc:
            raise ReplayError(503, "unavailable", f"replay read failed: {exc}") from exc
        finally:
            consumer.close()

    def _check_id(self, consumer: Consumer, start: Positions, stop: Positions) -> Positions:
        out: Positions = {}
        for (topic, p), end in stop.items():
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            # a partition the id does not know (added since) replays from its start
            pos = start.get((topic, p), low)
            if pos > high:
                raise ReplayError(400, "bad_request",
                                  "Last-Event-ID is ahead of the topic (another deployment?)",
                                  topic=topic, partition=p, offset=pos, end=high)
            if pos < low:
                raise ReplayError(410, "replay_out_of_range",
                                  "the events after Last-Event-ID are no longer retained in "
                                  "Kafka", topic=topic, partition=p, offset=pos,
                                  earliest=low)
            # a replica whose relay lags the one that gave the id: nothing to replay there
            pos = min(pos, end)
            out[(topic, p)] = pos
        return out

    def _from_time(self, consumer: Consumer, since_ms: int, stop: Positions) -> Positions:
        """Per partition, the first offset at or after ``since_ms`` (the window is checked
        against ``max_age_s``, which must stay below the topics' retention)."""
        now_ms = int(time.time() * 1000)
        if since_ms < now_ms - self.limits.max_age_s * 1000:
            raise ReplayError(410, "replay_out_of_range",
                              f"since is older than the replay window "
                              f"({self.limits.max_age_s:g} s)", since_ms=since_ms,
                              max_age_s=self.limits.max_age_s)
        found = consumer.offsets_for_times(
            [TopicPartition(t, p, since_ms) for (t, p) in stop], timeout=10)
        out: Positions = {}
        for tp in found:
            if tp.error:
                raise ReplayError(503, "unavailable", f"offset lookup failed: {tp.error}")
            end = stop[(tp.topic, tp.partition)]
            out[(tp.topic, tp.partition)] = end if tp.offset < 0 else min(tp.offset, end)
        return out

    def _read(self, consumer: Consumer, start: Positions, stop: Positions,
              filters: Filters) -> list[Event]:
        todo = {tp: start[tp] for tp in stop if start[tp] < stop[tp]}
        if not todo:
            return []
        consumer.assign([TopicPartition(t, p, off) for (t, p), off in todo.items()])
        decoder = RecordDecoder(self.routes)
        per_part: dict[tuple[str, int], list[Message]] = {tp: [] for tp in todo}
        deadline = time.monotonic() + self.limits.timeout_s
        while todo:
            if time.monotonic() > deadline:
                raise ReplayError(503, "unavailable", "replay timed out reading Kafka",
                                  pending=len(todo))
            for msg in consumer.consume(CONSUME_BATCH, timeout=0.2):
                err = msg.error()
                tp = (msg.topic(), msg.partition())
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        raise ReplayError(503, "unavailable", f"replay read failed: {err}")
                    if tp in todo and msg.offset() >= stop[tp]:
                        del todo[tp]
                    continue
                if tp not in todo or msg.offset() >= stop[tp]:
                    continue
                per_part[tp].append(msg)
                if msg.offset() + 1 >= stop[tp]:
                    del todo[tp]
        return self._merge(per_part, start, decoder, filters)

    def _merge(self, per_part: dict[tuple[str, int], list[Message]], start: Positions,
               decoder: RecordDecoder, filters: Filters) -> list[Event]:
        positions = dict(start)
        out = []
        streams = [[(m.timestamp()[1], i, m) for m in msgs]
                   for i, msgs in enumerate(per_part.values())]
        for _, _, msg in heapq.merge(*streams, key=lambda x: (x[0], x[1])):
            positions[(msg.topic(), msg.partition())] = msg.offset() + 1
            event = decoder.event(msg)
            if event is None or not filters.matches(event):
                continue
            event.id = self.codec.encode(positions)
            out.append(event)
        return out
