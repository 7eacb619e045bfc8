"""The live event hub: bounded per-client queues fed from Kafka, drained by SSE/WebSocket.

Producers (the topic relay thread, the registry) call :meth:`LiveHub.publish` from
any thread; fan-out runs on the event loop and only appends to each client's
deque. A full queue drops its oldest event and counts the drop, so a slow client
never slows the others; the next message it gets reports how many it lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from schemas.codec import Codec
from schemas.errors import CodecError
from streams.kafka.clients import make_consumer
from streams.logs_setup import get_logger

log = get_logger(__name__)

EVENT_TYPES = ("ANOMALY", "INCIDENT", "ALERT", "CLUSTER_UPSERTED", "CLUSTER_DELETED",
               "CLUSTER_STATUS_CHANGED")
RELAYED = {"aiops.anomalies": ("anomaly", "ANOMALY"), "aiops.incidents": ("incident", "INCIDENT"),
           "aiops.alerts": ("alert", "ALERT")}
_ids = itertools.count(1)


@dataclass(frozen=True)
class Event:
    """One live event; ``source_ts_ms`` is when it hit Kafka (or was emitted here)."""

    type: str
    cluster: str
    namespaces: tuple[str, ...]
    data: dict[str, Any]
    source_ts_ms: int
    id: int = field(default_factory=lambda: next(_ids))

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "cluster": self.cluster,
                "namespaces": list(self.namespaces), "source_ts_ms": self.source_ts_ms,
                "data": self.data}

    @cached_property
    def json(self) -> str:
        """The payload as JSON, serialised once for every client."""
        return json.dumps(self.payload(), default=str, allow_nan=False)


@dataclass
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
    """A client's bounded queue (drop oldest) and wake-up flag."""

    def __init__(self, filters: Filters, maxlen: int) -> None:
        self.filters = filters
        self.queue: deque[Event] = deque(maxlen=maxlen)
        self.dropped = 0
        self.reported_dropped = 0
        self.wake = asyncio.Event()

    def offer(self, event: Event) -> None:
        if not self.filters.matches(event):
            return
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(event)
        self.wake.set()

    async def next_batch(self, timeout: float) -> list[Event]:
        """Queued events, waiting up to ``timeout`` (empty list: time for a heartbeat)."""
        if not self.queue:
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except TimeoutError:
                return []
        out = list(self.queue)
        self.queue.clear()
        return out

    def new_drops(self) -> int:
        """Drops since the last report."""
        n = self.dropped - self.reported_dropped
        self.reported_dropped = self.dropped
        return n


class LiveHub:
    """Fan-out of events to subscribers on one event loop."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.published = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def subscribe(self, filters: Filters) -> Subscriber:
        sub = Subscriber(filters, self.queue_size)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def _fanout(self, event: Event) -> None:
        self.published += 1
        for sub in list(self.subscribers):
            sub.offer(event)

    def publish(self, event: Event) -> None:
        """Thread-safe: queue ``event`` for every matching subscriber."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop shut down after the check
            loop.call_soon_threadsafe(self._fanout, event)


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


class TopicRelay:
    """Background consumer of the result topics feeding the hub (from the latest offset)."""

    def __init__(self, bootstrap: str, hub: LiveHub,
                 topics: dict[str, tuple[str, str]] | None = None,
                 group: str | None = None) -> None:
        """``topics``: topic -> (schema, event type); default: the catalogue's result topics."""
        self.bootstrap = bootstrap
        self.hub = hub
        self.routes = dict(topics or RELAYED)
        self.topics = list(self.routes)
        self.group = group or f"aiops-api-live-{time.time_ns()}"
        self.codecs = {t: Codec(schema) for t, (schema, _) in self.routes.items()}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.assigned = threading.Event()
        self.relayed = 0
        self.undecodable = 0

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
            consumer.assign(current_ends(consumer, self.topics))
            self.assigned.set()
            while not self._stop.is_set():
                for msg in consumer.consume(500, timeout=0.1):
                    if msg.error():
                        if msg.error().code() != KafkaError._PARTITION_EOF:
                            log.warning("api_live_consume_error", error=str(msg.error()))
                        continue
                    self._relay(msg.topic(), msg.value(), msg.timestamp()[1])
        finally:
            consumer.close()

    def _relay(self, topic: str, value: bytes | None, ts_ms: int) -> None:
        if value is None:
            return
        try:
            rec = self.codecs[topic].decode(value)
        except CodecError as exc:
            # The sink dead-letters undecodable records; the stream only skips them.
            self.undecodable += 1
            log.warning("api_live_undecodable", topic=topic, error=str(exc))
            return
        self.relayed += 1
        self.hub.publish(event_from(self.routes[topic][1], rec, ts_ms))
