"""What every push receiver shares: the publisher contract, errors, self-metrics, delivery.

A receiver turns one request into a list of :class:`Outgoing` Kafka records and hands
them to :class:`Delivery`, which publishes them and waits for the broker's
acknowledgement (``flush``) before the request is answered: a 2xx means the data is
on Kafka. When it is not (publisher offline, flush timed out, too many requests in
flight) the client gets 429/503 with ``Retry-After`` and keeps its data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

from streams.logs_setup import get_logger

log = get_logger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Publisher(Protocol):
    """The slice of ``connectors.publish.kafka.KafkaPublisher`` receivers rely on."""

    def publish(self, topic: str, key: bytes, value: bytes) -> None: ...

    def poll(self, timeout: float = 0) -> int: ...

    def flush(self, timeout: float) -> int: ...

    def close(self) -> None: ...


class PayloadError(Exception):
    """The request cannot be accepted as sent (answered 4xx with ``reason``)."""

    def __init__(self, reason: str, status: int = 400, kind: str = "malformed") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.kind = kind


class BackpressureError(Exception):
    """Not now: answered 429/503 with ``Retry-After``; the client keeps and resends."""

    def __init__(self, reason: str, status: int = 503, retry_after_s: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Outgoing:
    """One Kafka record to publish and how many samples (spans, lines ...) it carries."""

    topic: str
    key: bytes
    value: bytes
    samples: int


class ReceiverMetrics:
    """Self-metrics of the receivers, in their own registry (served on /metrics)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "aiops_receiver_requests_total", "Requests answered, by source and HTTP status.",
            ["source", "code"], registry=r)
        self.received = Counter(
            "aiops_receiver_samples_received_total",
            "Samples (spans, log lines, metric points, alerts) decoded from requests.",
            ["source", "signal"], registry=r)
        self.published = Counter(
            "aiops_receiver_samples_published_total",
            "Samples acknowledged by Kafka before the request was answered.",
            ["source", "signal"], registry=r)
        self.dropped = Counter(
            "aiops_receiver_samples_dropped_total",
            "Samples not published: refused under backpressure (the client was told to "
            "retry) or rejected as invalid (the client was told why).",
            ["source", "signal", "reason"], registry=r)
        self.errors = Counter(
            "aiops_receiver_errors_total", "Requests refused, by source and reason.",
            ["source", "reason"], registry=r)
        self.publish_latency = Histogram(
            "aiops_receiver_publish_latency_seconds",
            "Publish + broker acknowledgement time per request.", ["source"],
            buckets=LATENCY_BUCKETS, registry=r)


class Delivery:
    """Publishes a request's records and confirms them within the request.

    ``max_inflight`` bounds concurrent deliveries (more get 429); a publisher that
    reports ``online == False`` refuses new data up front (503) instead of piling
    retried duplicates into its spool.
    """

    def __init__(
        self,
        publisher: Publisher,
        metrics: ReceiverMetrics,
        *,
        timeout_s: float = 10.0,
        max_inflight: int = 16,
        retry_after_s: int = 2,
    ) -> None:
        self.publisher = publisher
        self.metrics = metrics
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self._slots = threading.BoundedSemaphore(max(max_inflight, 1))

    @property
    def ready(self) -> bool:
        """False while the publisher says the broker is unreachable."""
        return bool(getattr(self.publisher, "online", True))

    def deliver(self, source: str, signal: str, records: Sequence[Outgoing]) -> int:
        """Publish ``records`` and wait for the broker; returns samples published.

        Raises :class:`BackpressureError` when the records are not confirmed in time.
        """
        samples = sum(r.samples for r in records)
        if not records:
            return 0
        if not self._slots.acquire(blocking=False):
            self._refuse(source, signal, samples, "too_many_requests")
            raise BackpressureError("too many requests in flight", 429, self.retry_after_s)
        try:
            if not self.ready:
                self._refuse(source, signal, samples, "kafka_unavailable")
                raise BackpressureError("kafka is unreachable", 503, self.retry_after_s)
            started = time.perf_counter()
            try:
                for rec in records:
                    self.publisher.publish(rec.topic, rec.key, rec.value)
            except Exception as exc:  # noqa: BLE001 - any publisher failure means "not now"
                self._refuse(source, signal, samples, "publish_failed")
                log.warning("publish failed", source=source, error=repr(exc))
                raise BackpressureError(f"publish failed: {exc}", 503,
                                        self.retry_after_s) from exc
            pending = self.publisher.flush(self.timeout_s)
            if pending:
                self._refuse(source, signal, samples, "publish_timeout")
                raise BackpressureError(
                    f"kafka did not acknowledge within {self.timeout_s:g}s "
                    f"({pending} records pending)", 503, self.retry_after_s)
            self.metrics.publish_latency.labels(source).observe(time.perf_counter() - started)
            self.metrics.published.labels(source, signal).inc(samples)
            return samples
        finally:
            self._slots.release()

    def _refuse(self, source: str, signal: str, samples: int, reason: str) -> None:
        self.metrics.dropped.labels(source, signal, reason).inc(samples)
        self.metrics.errors.labels(source, reason).inc()
