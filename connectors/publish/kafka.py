"""The one way collectors and receivers put records on Kafka.

:class:`KafkaPublisher` wraps an idempotent, lz4, batched confluent-kafka producer
(:func:`streams.kafka.clients.producer_config`) and adds a bounded spool:

* online: ``publish`` hands the record to librdkafka; delivery reports are counted
  (``delivered``, latency histogram) when ``poll``/``flush`` serve them;
* when the broker becomes unreachable (librdkafka reports all brokers down, a
  retriable delivery error, or the local queue stays full), the publisher goes
  OFFLINE: records still queued in librdkafka are purged back into the spool (in
  order) and every new record is appended to the spool;
* while offline, the spool's oldest record is sent as a probe; once the broker
  acknowledges it the publisher is ONLINE again and replays the spool in order
  before taking new records directly (new records queue behind the spool);
* when the spool is full, its oldest records are dropped, counted and logged.

Delivery is at-least-once: a record whose acknowledgement was lost with the broker
may be sent again from the spool (batch ids make the duplicate recognisable).
Permanent errors (e.g. a record larger than the broker accepts) are logged with
the reason and counted in ``failed``; they are never retried forever.

All methods are safe to call from several threads; callbacks run inside
``poll``/``flush``/``publish`` on the calling thread.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from prometheus_client import Histogram

from connectors.publish.spool import DiskSpool, MemorySpool, Spool
from streams.kafka.clients import producer_config
from streams.logs_setup import get_logger

log = get_logger(__name__)

DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

# errors after which the record is worth sending again once the broker is back
_RETRIABLE = {
    KafkaError._MSG_TIMED_OUT, KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT,
    KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT,
    KafkaError.NOT_ENOUGH_REPLICAS, KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    KafkaError.LEADER_NOT_AVAILABLE, KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.REQUEST_TIMED_OUT, KafkaError.NETWORK_EXCEPTION,
    KafkaError._UNKNOWN_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PART,
}
_DOWN_ERRORS = {KafkaError._ALL_BROKERS_DOWN}


class PublishError(ValueError):
    """librdkafka refused a record outright (e.g. larger than ``message.max.bytes``)."""


@dataclass
class PublisherCounters:
    """Running totals (records) since the publisher started."""

    published: int = 0  # publish() calls accepted
    delivered: int = 0  # acknowledged by the broker
    delivered_bytes: int = 0
    failed: int = 0  # permanent delivery errors (logged with the reason)
    spooled: int = 0  # records written to the spool
    replayed: int = 0  # records taken from the spool and handed to librdkafka
    requeued: int = 0  # records that came back from librdkafka into the spool
    outages: int = 0  # online -> offline transitions


class _LibrdkafkaLog:
    """librdkafka's log lines into our logs; while offline its connect failures (one every
    backoff) are demoted to DEBUG: the outage itself is logged once by the publisher."""

    def __init__(self, publisher: KafkaPublisher) -> None:
        self._publisher = publisher
        self._log = logging.getLogger("librdkafka")

    def log(self, level: int, fmt: str, *args: Any) -> None:
        if not self._publisher.online and level > logging.DEBUG:
            level = logging.DEBUG
        self._log.log(level, fmt, *args)


class KafkaPublisher:
    """Idempotent producer with a bounded spool for broker outages.

    ``producer_overrides`` are librdkafka settings merged over the defaults; pass
    dotted names with ``**{"linger.ms": 5}``. ``spool_dir`` None keeps the spool in
    memory (bounded by ``spool_max_bytes`` too, lost on exit).
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        spool_dir: Path | None = None,
        spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES,
        max_block_s: float = 5.0,
        **producer_overrides: Any,
    ) -> None:
        self.bootstrap = bootstrap
        self.max_block_s = max_block_s
        self.counters = PublisherCounters()
        self.latency = Histogram(
            "aiops_publish_latency_seconds", "Produce-to-acknowledgement latency.",
            buckets=LATENCY_BUCKETS, registry=None,
        )
        self.spool: Spool = (
            DiskSpool(Path(spool_dir), spool_max_bytes) if spool_dir is not None
            else MemorySpool(spool_max_bytes)
        )
        self._lock = threading.RLock()
        self._online = True
        self._purge_pending = False
        self._probe: object | None = None  # spool token of the record sent as a probe
        self._dropped_but_delivered = 0
        self._drops_logged = 0
        self._drops_logged_at = -1e9
        self._last_error = ""
        self._closed = False
        config = producer_config(bootstrap, **producer_overrides)
        config["error_cb"] = self._on_error
        config.setdefault("logger", _LibrdkafkaLog(self))
        self._producer = Producer(config)
        if len(self.spool):
            self._online = False  # replay what an earlier run left behind, first

    # -- public API ------------------------------------------------------------
    @property
    def online(self) -> bool:
        """False while the broker is considered unreachable (records go to the spool)."""
        return self._online

    @property
    def spool_depth(self) -> int:
        """Records waiting in the spool."""
        return len(self.spool)

    @property
    def dropped(self) -> int:
        """Records dropped because the spool was full (and never delivered)."""
        return self.spool.dropped - self._dropped_but_delivered

    def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Queue one record; never blocks longer than ``max_block_s`` and never raises
        for broker trouble (the record is spooled instead). Raises :class:`PublishError`
        for a record the producer refuses outright (too large, unknown config)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("publisher is closed")
            self.counters.published += 1
            if self._online and not len(self.spool):
                if self._produce(topic, key, value, block=True):
                    self._producer.poll(0)
                    self._after_callbacks()
                    return
                self._go_offline("local queue full", purge=False)
            self.spool.append(topic, key, value)
            self.counters.spooled += 1
            self._log_drops()
            self._service()

    def poll(self, timeout: float = 0) -> int:
        """Serve delivery callbacks (and spool replay); returns the number served."""
        with self._lock:
            served = self._producer.poll(timeout)
            self._after_callbacks()
            self._service()
            return served

    def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for delivery; returns records still pending
        (in librdkafka's queue plus in the spool)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:  # released between rounds so other threads can publish
                self._service()
                remaining = deadline - time.monotonic()
                left = self._producer.flush(max(min(remaining, 0.25), 0))
                self._after_callbacks()
                pending = left + len(self.spool)
            if pending == 0 or time.monotonic() >= deadline:
                return pending

    def close(self, timeout: float = 10.0) -> None:
        """Flush, then move anything undelivered back into the spool and release files."""
        with self._lock:
            if self._closed:
                return
            pending = self.flush(timeout)
            if pending:
                self._producer.purge(in_queue=True, in_flight=True, blocking=True)
                self._producer.poll(0)
                self._producer.flush(0)
                log.warning("publisher closed with records pending", spooled=len(self.spool),
                            durable=isinstance(self.spool, DiskSpool))
            self._closed = True
            self.spool.close()
            self._producer.flush(0)
            del self._producer  # librdkafka stops its threads when the handle goes

    def stats(self) -> dict[str, Any]:
        """Counters plus current state, for logs and /metrics."""
        return {**asdict(self.counters), "dropped": self.dropped, "spool_depth": len(self.spool),
                "spool_bytes": self.spool.bytes, "online": self._online,
                "queued": 0 if self._closed else len(self._producer)}

    # -- internals -------------------------------------------------------------
    def _produce(self, topic: str, key: bytes | None, value: bytes, *, block: bool) -> bool:
        """Hand one record to librdkafka; False when its queue stays full."""
        deadline = time.monotonic() + (self.max_block_s if block else 0)
        while True:
            try:
                self._producer.produce(topic, value, key, on_delivery=self._on_delivery)
                return True
            except KafkaException as exc:
                self.counters.failed += 1
                log.error("record refused by the producer", topic=topic, error=str(exc),
                          bytes=len(value))
                raise PublishError(f"{topic}: {exc.args[0].str()}") from exc
            except BufferError:
                if time.monotonic() >= deadline:
                    return False
                self._producer.poll(0.05)
                self._after_callbacks()
                if not self._online:
                    return False

    def _service(self) -> None:
        """Replay the spool while online; probe the broker while offline."""
        if not len(self.spool):
            return
        if self._online:
            while True:
                head = self.spool.peek()
                if head is None:
                    return
                token, rec = head
                try:
                    if not self._produce(rec.topic, rec.key, rec.value, block=False):
                        return
                except PublishError:
                    pass  # logged and counted in failed; never retried
                self.spool.pop(token)
                self.counters.replayed += 1
                if not self._online:  # a callback took us offline mid-replay
                    return
        elif self._probe is None:
            head = self.spool.peek()
            if head is None:
                return
            token, rec = head
            try:
                self._producer.produce(rec.topic, rec.value, rec.key,
                                       on_delivery=self._probe_callback(token))
            except BufferError:
                return
            except KafkaException as exc:
                self.counters.failed += 1
                log.error("spooled record refused by the producer", topic=rec.topic,
                          error=str(exc), bytes=len(rec.value))
                self.spool.pop(token)
                return
            self._probe = token

    def _log_drops(self) -> None:
        """Log spool overflow (at most every 10 s; the counter is exact)."""
        dropped = self.dropped
        if dropped != self._drops_logged and time.monotonic() - self._drops_logged_at >= 10:
            log.warning("spool full: oldest records dropped", dropped_total=dropped,
                        new=dropped - self._drops_logged, spool_bytes=self.spool.bytes)
            self._drops_logged = dropped
            self._drops_logged_at = time.monotonic()

    def _probe_callback(self, token: object):
        def done(err: KafkaError | None, msg: Message) -> None:
            self._probe = None
            if err is not None:
                return  # still down: the record stays at the spool head
            if self.spool.pop(token):
                self.counters.replayed += 1
            else:  # the spool dropped it as the oldest while it was out: it arrived anyway
                self._dropped_but_delivered += 1
            self._count_delivered(msg)
            self._online = True
            log.info("kafka reachable again; replaying the spool", spool=len(self.spool))
        return done

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self._count_delivered(msg)
            return
        if err.code() in _RETRIABLE or err.retriable():
            self.spool.append(msg.topic(), msg.key(), msg.value() or b"")
            self.counters.requeued += 1
            self._log_drops()
            if self._online:
                self._go_offline(err.str(), purge=True)
            return
        self.counters.failed += 1
        log.error("record rejected by kafka", topic=msg.topic(), error=err.str(),
                  code=err.name(), bytes=len(msg.value() or b""))

    def _count_delivered(self, msg: Message) -> None:
        self.counters.delivered += 1
        self.counters.delivered_bytes += len(msg.value() or b"")
        latency = msg.latency()
        if latency is not None:
            self.latency.observe(latency)

    def _on_error(self, err: KafkaError) -> None:
        self._last_error = err.str()
        if err.fatal():
            log.error("fatal kafka producer error", error=err.str())
        if err.code() in _DOWN_ERRORS and self._online:
            self._go_offline(err.str(), purge=True)

    def _go_offline(self, reason: str, *, purge: bool) -> None:
        self._online = False
        self.counters.outages += 1
        self._purge_pending = purge or self._purge_pending
        log.warning("kafka unreachable; spooling", reason=reason, spool=len(self.spool))

    def _after_callbacks(self) -> None:
        """Purge librdkafka's queue into the spool after going offline (outside callbacks)."""
        if self._purge_pending:
            self._purge_pending = False
            self._producer.purge(in_queue=True, in_flight=False, blocking=True)
            self._producer.poll(0)
