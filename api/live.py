"""The live event hub: bounded per-client queues fed from Kafka, drained by SSE/WebSocket.

The topic relay thread polls the result topics and hands each poll's events to
the event loop in one call; fan-out evaluates each distinct subscription filter
once per batch and only appends to the matching clients' deques (every event is
serialised once, lazily, for all clients). A full queue drops its oldest event and
counts the drop, so a slow client never slows the others; the next message it
gets reports how many it lost.

Every event id is the relay's Kafka position just after that event
(:mod:`api.cursor`), so a client can resume from it (:mod:`api.replay`); the hub
keeps the position of the last event it fanned out for exactly that hand-over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from prometheus_client import Histogram

from api.cursor import CursorCodec, Positions
from schemas.codec import Codec
from schemas.errors import CodecError
from streams.kafka.clients import make_consumer
from streams.logs_setup import get_logger

log = get_logger(__name__)

EVENT_TYPES = ("ANOMALY", "INCIDENT", "ALERT", "CLUSTER_UPSERTED", "CLUSTER_DELETED",
               "CLUSTER_STATUS_CHANGED")
RELAYED = {"aiops.anomalies": ("anomaly", "ANOMALY"), "aiops.incidents": ("incident", "INCIDENT"),
           "aiops.alerts": ("alert", "ALERT")}


@dataclass(eq=False)
class Event:
    """One live event; ``source_ts_ms`` is when it hit Kafka (or was emitted here).

    ``position`` (relayed events) is the relay's Kafka position after this event;
    ``id`` is its encoding, or for registry events the hub's position when fanned out.
    """

    type: str
    cluster: str
    namespaces: tuple[str, ...]
    data: dict[str, Any]
    source_ts_ms: int
    id: str = ""
    position: Positions | None = field(default=None, repr=False)

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "cluster": self.cluster,
                "namespaces": list(self.namespaces), "source_ts_ms": self.source_ts_ms,
                "data": self.data}

    @cached_property
    def json(self) -> str:
        """The payload as JSON, serialised once for every client."""
        return json.dumps(self.payload(), default=str, allow_nan=False)

    @cached_property
    def sse(self) -> bytes:
        """The complete SSE frame (``id``, ``event``, ``data``), encoded once."""
        head = f"id: {self.id}\n" if self.id else ""
        return f"{head}event: {self.type}\ndata: {self.json}\n\n".encode()

    @cached_property
    def ws(self) -> str:
        """The WebSocket text message, encoded once."""
        return '{"type": "event", "event": ' + self.json + "}"


@dataclass(frozen=True)
class Filters:
    """Subscription filters; None = everything (clusters are already scope-restricted)."""

    types: frozenset[str] | None = None
    clusters: frozenset[str] | None = None
    namespaces: frozenset[str] | None = None

    def matches(self, e: Event) -> bool:
        if self.types is not None and e.type not in self.types:
            return False
        if self.clusters is not None and e.cluster not in self.clusters:
            return False
        return self.namespaces is None or bool(self.namespaces.intersection(e.namespaces))


class Subscriber:
    """A client's bounded queue (drop oldest) and the future its stream task waits on.

    One future and one timer per wait (no ``wait_for`` task): waking a thousand
    clients is a thousand ``set_result`` calls.
    """

    def __init__(self, filters: Filters, maxlen: int) -> None:
        self.filters = filters
        self.queue: deque[Event] = deque(maxlen=maxlen)
        self.dropped = 0
        self.reported_dropped = 0
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, event: Event) -> None:
        if self.filters.matches(event):
            self.offer_matched([event])

    def offer_matched(self, events: Sequence[Event]) -> None:
        """Queue events already known to match (oldest dropped when full)."""
        overflow = len(self.queue) + len(events) - (self.queue.maxlen or 0)
        if overflow > 0:
            self.dropped += overflow
        self.queue.extend(events)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_batch(self, timeout: float) -> list[Event]:
        """Queued events, waiting up to ``timeout`` (empty list: time for a heartbeat)."""
        if not self.queue:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(timeout, _wake, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        out = list(self.queue)
        self.queue.clear()
        return out

    def new_drops(self) -> int:
        """Drops since the last report."""
        n = self.dropped - self.reported_dropped
        self.reported_dropped = self.dropped
        return n


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class LiveHub:
    """Fan-out of events to subscribers on one event loop, grouped by filter."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self.groups: dict[Filters, set[Subscriber]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.published = 0
        self.codec: CursorCodec | None = None  # set by the relay: ids are resumable
        self.positions: Positions = {}
        self.position_id = ""

    @property
    def subscribers(self) -> set[Subscriber]:
        return {s for subs in self.groups.values() for s in subs}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def start_at(self, codec: CursorCodec, positions: Positions) -> None:
        """The relay's codec and starting position (before it publishes anything)."""
        self.codec = codec
        self.positions = dict(positions)
        self.position_id = codec.encode(positions)

    def subscribe(self, filters: Filters) -> Subscriber:
        """A new subscriber; ``self.positions`` now is exactly where its live events begin."""
        sub = Subscriber(filters, self.queue_size)
        self.groups.setdefault(filters, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self.groups.get(sub.filters)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.groups[sub.filters]

    def refilter(self, sub: Subscriber, filters: Filters) -> None:
        """Change a subscriber's filters (WebSocket re-subscription)."""
        self.unsubscribe(sub)
        sub.filters = filters
        self.groups.setdefault(filters, set()).add(sub)

    def _fanout(self, events: Sequence[Event]) -> None:
        self.published += len(events)
        for e in events:
            if e.position is not None:
                self.positions, self.position_id = e.position, e.id
            elif not e.id:
                e.id = self.position_id
        for filters, subs in list(self.groups.items()):
            matched = [e for e in events if filters.matches(e)]
            if matched:
                for sub in subs:
                    sub.offer_matched(matched)

    def publish(self, event: Event) -> None:
        """Thread-safe: queue ``event`` for every matching subscriber."""
        self.publish_batch([event])

    def publish_batch(self, events: Sequence[Event]) -> None:
        """Thread-safe: fan ``events`` out in one loop callback, in order."""
        loop = self.loop
        if not events or loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop shut down after the check
            loop.call_soon_threadsafe(self._fanout, events)


def event_from(event_type: str, rec: dict[str, Any], ts_ms: int) -> Event:
    """A live event for a decoded anomaly/incident/alert record."""
    labels = rec.get("labels") or {}
    if event_type == "INCIDENT":
        namespaces = tuple(rec.get("namespaces") or ())
    else:
        namespaces = (labels["namespace"],) if labels.get("namespace") else ()
    return Event(event_type, str(rec.get("cluster", "")), namespaces, rec, ts_ms)


def current_ends(consumer: Consumer, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of ``topics`` positioned at its current end (high watermark)."""
    meta = consumer.list_topics(timeout=10)
    out = []
    for topic in topics:
        if topic not in meta.topics:
            raise RuntimeError(f"topic {topic} does not exist (run `aiops topics apply`)")
        for p in sorted(meta.topics[topic].partitions):
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            out.append(TopicPartition(topic, p, high))
    return out


class RecordDecoder:
    """Kafka records of the relayed topics to events (undecodable ones skipped, counted)."""

    def __init__(self, routes: dict[str, tuple[str, str]]) -> None:
        self.routes = routes
        self.codecs = {t: Codec(schema) for t, (schema, _) in routes.items()}
        self.undecodable = 0

    def event(self, msg: Message) -> Event | None:
        topic, value = msg.topic(), msg.value()
        if value is None:
            return None
        try:
            rec = self.codecs[topic].decode(value)
        except CodecError as exc:
            # The sink dead-letters undecodable records; the stream only skips them.
            self.undecodable += 1
            log.warning("api_live_undecodable", topic=topic, offset=msg.offset(), error=str(exc))
            return None
        return event_from(self.routes[topic][1], rec, msg.timestamp()[1])


class TopicRelay:
    """Background consumer of the result topics feeding the hub (from the latest offset).

    It polls with a short timeout (a record is handed on as soon as it arrives),
    then drains whatever else is already fetched, and publishes the lot as one batch.
    """

    POLL_S = 0.05
    BATCH = 500

    def __init__(self, bootstrap: str, hub: LiveHub,
                 topics: dict[str, tuple[str, str]] | None = None,
                 group: str | None = None, lag: Histogram | None = None) -> None:
        """``topics``: topic -> (schema, event type); default: the catalogue's result topics.

        ``lag`` observes each record's age (Kafka timestamp to receipt) in seconds.
        """
        self.lag = lag
        self.bootstrap = bootstrap
        self.hub = hub
        self.routes = dict(topics or RELAYED)
        self.topics = list(self.routes)
        self.group = group or f"aiops-api-live-{time.time_ns()}"
        self.decoder = RecordDecoder(self.routes)
        self.codec = CursorCodec(self.topics)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.assigned = threading.Event()
        self.relayed = 0

    @property
    def undecodable(self) -> int:
        return self.decoder.undecodable

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="api-live-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        consumer = make_consumer(self.bootstrap, self.group, **{
            "auto.offset.reset": "latest", "fetch.wait.max.ms": 10})
        try:
            ends = current_ends(consumer, self.topics)
            positions = {(tp.topic, tp.partition): tp.offset for tp in ends}
            consumer.assign(ends)
            self.hub.start_at(self.codec, positions)
            self.assigned.set()
            while not self._stop.is_set():
                first = consumer.poll(self.POLL_S)
                if first is None:
                    continue
                msgs = [first, *consumer.consume(self.BATCH - 1, timeout=0)]
                positions = self._publish(msgs, positions)
        finally:
            consumer.close()

    def _publish(self, msgs: list[Message], positions: Positions) -> Positions:
        """Publish the events of ``msgs``; returns the position after the last one."""
        events = []
        now_ms = time.time() * 1000
        for msg in msgs:
            if msg.error():
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("api_live_consume_error", error=str(msg.error()))
                continue
            positions = {**positions, (msg.topic(), msg.partition()): msg.offset() + 1}
            event = self.decoder.event(msg)
            if event is None:
                continue
            event.position = positions
            if self.lag is not None:
                self.lag.observe(max(0.0, now_ms - event.source_ts_ms) / 1000)
            event.id = self.codec.encode(positions)
            events.append(event)
        self.relayed += len(events)
        self.hub.publish_batch(events)
        return positions
