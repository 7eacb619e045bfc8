"""The fleet registry, materialised from the compacted topic ``aiops.clusters``.

A background consumer reads the topic from the beginning and keeps the latest
record per cluster name (a tombstone deletes it). Writes are produced to the
topic, and once Kafka acknowledges them they are applied locally too, so a write
is visible when it returns; the consumer later skips them by offset. The served
state is derived from the record's heartbeat (``last_seen``) and health score:

* UNKNOWN: never heard from (``last_seen`` 0) or the scraper had checked nothing;
* OFFLINE: no heartbeat for ``offline_after_s``;
* DEGRADED: health below ``degraded_health`` (or reported DEGRADED);
* ONLINE otherwise.

A checker re-derives states every few seconds and emits CLUSTER_STATUS_CHANGED.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from api.live import Event, LiveHub
from schemas.codec import Codec
from schemas.errors import CodecError
from streams.kafka.clients import make_consumer, make_producer
from streams.logs_setup import get_logger

log = get_logger(__name__)
TOPIC = "aiops.clusters"
STATES = ("ONLINE", "DEGRADED", "OFFLINE", "UNKNOWN")


class RegistryError(Exception):
    """Kafka did not accept a registry write."""


@dataclass
class Entry:
    record: dict[str, Any]
    offset: int
    state: str


def derive_state(rec: dict[str, Any], now_ms: int, offline_after_s: float,
                 degraded_health: float) -> str:
    """The served state of a cluster record at ``now_ms``.

    >>> r = {"last_seen": 1000, "status": "ONLINE", "health_score": 1.0}
    >>> derive_state(r, 2000, 90, 0.9), derive_state(r, 200_000, 90, 0.9)
    ('ONLINE', 'OFFLINE')
    >>> derive_state({**r, "health_score": 0.5}, 2000, 90, 0.9)
    'DEGRADED'
    """
    if not rec.get("last_seen"):
        return "UNKNOWN"
    if now_ms - int(rec["last_seen"]) > offline_after_s * 1000:
        return "OFFLINE"
    if rec.get("status") == "UNKNOWN":
        return "UNKNOWN"
    if rec.get("status") == "DEGRADED" or float(rec.get("health_score", 0)) < degraded_health:
        return "DEGRADED"
    return "ONLINE"


class Registry:
    """Topic-backed registry with derived states."""

    def __init__(self, bootstrap: str, hub: LiveHub | None = None, *, topic: str = TOPIC,
                 offline_after_s: float = 90.0, degraded_health: float = 0.9,
                 check_interval_s: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.hub = hub
        self.offline_after_s = offline_after_s
        self.degraded_health = degraded_health
        self.check_interval_s = check_interval_s
        self.clock = clock
        self.codec = Codec("cluster_record")
        self._entries: dict[str, Entry] = {}
        self._deleted_at: dict[str, int] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.caught_up = threading.Event()
        self._producer = make_producer(bootstrap, **{"linger.ms": 0})

    # lifecycle
    def start(self) -> None:
        for target, name in ((self._consume, "api-registry"), (self._check, "api-registry-check")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        self._producer.flush(5)

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """True once the topic has been read up to its end as of start."""
        return self.caught_up.wait(timeout)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # reading the topic
    def _consume(self) -> None:
        consumer = make_consumer(self.bootstrap, f"aiops-api-registry-{time.time_ns()}",
                                 **{"fetch.wait.max.ms": 50})
        try:
            meta = consumer.list_topics(self.topic, timeout=10)
            parts = sorted(meta.topics[self.topic].partitions)
            ends = {p: consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
                    for p in parts}
            consumer.assign([TopicPartition(self.topic, p, 0) for p in parts])
            pending = {p for p, end in ends.items() if end > 0}
            if not pending:
                self.caught_up.set()
            while not self._stop.is_set():
                for msg in consumer.consume(1000, timeout=0.2):
                    if msg.error():
                        if msg.error().code() != KafkaError._PARTITION_EOF:
                            log.warning("api_registry_consume_error", error=str(msg.error()))
                        continue
                    self._apply_message(msg.key(), msg.value(), msg.partition(), msg.offset())
                    if msg.partition() in pending and msg.offset() + 1 >= ends[msg.partition()]:
                        pending.discard(msg.partition())
                        if not pending:
                            self.caught_up.set()
        except (KafkaException, KeyError) as exc:
            log.error("api_registry_consumer_failed", error=str(exc))
        finally:
            consumer.close()

    def _apply_message(self, key: bytes | None, value: bytes | None, partition: int,
                       offset: int) -> None:
        if not key:
            return
        name = key.decode("utf-8", "replace")
        if value is None:
            self._apply(name, None, offset)
            return
        try:
            rec = self.codec.decode(value)
        except CodecError as exc:
            log.warning("api_registry_undecodable", cluster=name, offset=offset, error=str(exc))
            return
        self._apply(name, rec, offset)

    def _apply(self, name: str, rec: dict[str, Any] | None, offset: int) -> None:
        """Apply one topic record if it is newer (by offset) than what we hold."""
        with self._lock:
            held = self._entries.get(name)
            if held and held.offset >= offset or self._deleted_at.get(name, -1) >= offset:
                return
            if rec is None:
                if held:
                    del self._entries[name]
                self._deleted_at[name] = offset
                event = Event("CLUSTER_DELETED", name, (), {"name": name}, self.now_ms())
            else:
                state = derive_state(rec, self.now_ms(), self.offline_after_s,
                                     self.degraded_health)
                self._entries[name] = Entry(rec, offset, state)
                self._deleted_at.pop(name, None)
                event = Event("CLUSTER_UPSERTED", name, (), self.view(rec, state), self.now_ms())
                if held and held.state != state:
                    self._emit_status(name, held.state, state, rec)
        if self.hub:
            self.hub.publish(event)

    def _emit_status(self, name: str, old: str, new: str, rec: dict[str, Any]) -> None:
        log.info("api_cluster_status_changed", cluster=name, old=old, new=new)
        if self.hub:
            self.hub.publish(Event("CLUSTER_STATUS_CHANGED", name, (), {
                "name": name, "previous": old, "state": new,
                "health_score": rec.get("health_score"), "last_seen": rec.get("last_seen")},
                self.now_ms()))

    def check_states(self) -> list[tuple[str, str, str]]:
        """Re-derive every state; returns (name, old, new) for those that changed."""
        changed = []
        now = self.now_ms()
        with self._lock:
            for name, entry in self._entries.items():
                new = derive_state(entry.record, now, self.offline_after_s, self.degraded_health)
                if new != entry.state:
                    changed.append((name, entry.state, new))
                    self._emit_status(name, entry.state, new, entry.record)
                    entry.state = new
        return changed

    def _check(self) -> None:
        while not self._stop.wait(self.check_interval_s):
            self.check_states()

    # writing
    def _produce(self, name: str, value: bytes | None) -> int:
        result: dict[str, Any] = {}

        def done(err: Any, msg: Any) -> None:
            result["err"], result["offset"] = err, (msg.offset() if msg is not None else -1)

        self._producer.produce(self.topic, key=name.encode(), value=value, on_delivery=done)
        self._producer.flush(15)
        if "err" not in result:
            raise RegistryError("Kafka did not acknowledge the registry write in time")
        if result["err"] is not None:
            raise RegistryError(f"Kafka refused the registry write: {result['err']}")
        return int(result["offset"])

    def put(self, rec: dict[str, Any]) -> dict[str, Any]:
        """Write (create or replace) a record; visible to readers when this returns."""
        with self._lock:
            held = self._entries.get(rec["name"])
            floor = int(held.record["record_version"]) + 1 if held else 0
        rec = {**rec, "record_version": max(int(rec.get("record_version") or 0), self.now_ms(),
                                            floor)}
        offset = self._produce(rec["name"], self.codec.encode(rec))
        self._apply(rec["name"], self.codec.decode(self.codec.encode(rec)), offset)
        return self.get(rec["name"]) or {}

    def delete(self, name: str) -> None:
        self._apply(name, None, self._produce(name, None))

    # serving
    def view(self, rec: dict[str, Any], state: str) -> dict[str, Any]:
        """The API's cluster object."""
        return {**{k: v for k, v in rec.items() if k != "status"}, "reported_status":
                rec.get("status", "UNKNOWN"), "state": state,
                "capabilities": dict(rec.get("capabilities") or {})}

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self.view(e.record, e.state) for _, e in sorted(self._entries.items())]

    def get(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            e = self._entries.get(name)
            return self.view(e.record, e.state) if e else None

    def by_id(self, cluster_id: str) -> dict[str, Any] | None:
        with self._lock:
            for e in self._entries.values():
                if e.record.get("cluster_id") == cluster_id:
                    return self.view(e.record, e.state)
        return None

    def names(self) -> set[str]:
        with self._lock:
            return set(self._entries)
