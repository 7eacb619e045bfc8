"""OTLP on Kafka: consume an OpenTelemetry Collector's kafka exporter topics.

The Collector's ``kafka`` exporter with ``encoding: otlp_proto`` writes one
``Export{Trace,Logs,Metrics}ServiceRequest`` protobuf per message to ``otlp_spans``,
``otlp_logs`` and ``otlp_metrics``. This consumer maps them exactly like the OTLP/HTTP
receiver and republishes them into our topics, so an existing OTel pipeline plugs in
unchanged. Offsets are committed only after Kafka acknowledged the republished
records; a message that does not decode goes to ``aiops.deadletter`` with the reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from google.protobuf.message import DecodeError

from connectors.receivers.base import BackpressureError, Delivery, Outgoing
from connectors.receivers.otlp import SIGNALS
from schemas.codec import Codec
from schemas.errors import CodecError
from streams.kafka.clients import make_consumer
from streams.logs_setup import get_logger

log = get_logger(__name__)

DEADLETTER_TOPIC = "aiops.deadletter"
SIGNAL_ORDER = ("traces", "logs", "metrics")


class OtlpKafkaConsumer:
    """Consume ``otlp_proto`` topics (spans, logs, metrics in that order) and republish."""

    source = "otlp-kafka"

    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        delivery: Delivery,
        *,
        default_cluster: str,
        group: str = "aiops-otlp-kafka",
        batch_size: int = 500,
        **consumer_overrides: object,
    ) -> None:
        if len(topics) != 3:
            raise ValueError("topics must name the spans, logs and metrics topics, in order")
        self.signal_of = dict(zip(topics, SIGNAL_ORDER, strict=True))
        self.delivery = delivery
        self.default_cluster = default_cluster
        self.batch_size = batch_size
        self.consumer: Consumer = make_consumer(bootstrap, group, **consumer_overrides)
        self.deadletter = Codec("dead_letter")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _records(self, msg: Message) -> list[Outgoing]:
        signal = SIGNALS[self.signal_of[msg.topic()]]
        payload = msg.value() or b""
        try:
            req = signal.request()
            req.ParseFromString(payload)
            self.delivery.metrics.received.labels(self.source, signal.name).inc(
                signal.count(req))
            batch_source = "otlp" if signal.name == "metrics" else self.source
            return signal.records(req, default_cluster=self.default_cluster,
                                  source=batch_source, now_ms=int(time.time() * 1000))
        except (DecodeError, CodecError, RuntimeWarning) as exc:
            self.delivery.metrics.errors.labels(self.source, "malformed").inc()
            log.warning("undecodable otlp_proto message dead-lettered", topic=msg.topic(),
                        partition=msg.partition(), offset=msg.offset(), error=str(exc))
            dead = {"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(),
                    "key": msg.key(), "error": f"not an OTLP {signal.request.__name__}: {exc}",
                    "error_type": type(exc).__name__, "stage": "DECODE",
                    "component": self.source, "raw": payload,
                    "ts": int(time.time() * 1000)}
            return [Outgoing(DEADLETTER_TOPIC, msg.topic().encode(),
                             self.deadletter.encode(dead), 0)]

    def step(self, timeout: float = 1.0) -> int:
        """Consume one batch, republish it, commit; returns messages handled."""
        msgs = [m for m in self.consumer.consume(self.batch_size, timeout) if m is not None]
        good: list[Message] = []
        for m in msgs:
            if m.error():
                log.warning("kafka consume error", error=str(m.error()))
                continue
            good.append(m)
        if not good:
            return 0
        by_signal: dict[str, list[Outgoing]] = {}
        for m in good:
            by_signal.setdefault(self.signal_of[m.topic()], []).extend(self._records(m))
        try:
            for signal, records in by_signal.items():
                self.delivery.deliver(self.source, signal, records)
        except BackpressureError:
            self._rewind(good)
            raise
        ends: dict[tuple[str, int], int] = {}
        for m in good:
            ends[(m.topic(), m.partition())] = max(ends.get((m.topic(), m.partition()), -1),
                                                   m.offset() + 1)
        self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in ends.items()],
                             asynchronous=False)
        return len(good)

    def _rewind(self, msgs: list[Message]) -> None:
        """Seek back to the first message of the failed batch on every partition."""
        starts: dict[tuple[str, int], int] = {}
        for m in msgs:
            key = (m.topic(), m.partition())
            starts[key] = min(starts.get(key, m.offset()), m.offset())
        for (topic, part), off in starts.items():
            self.consumer.seek(TopicPartition(topic, part, off))

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Subscribe and consume in a background thread until :meth:`stop`."""
        self.consumer.subscribe(list(self.signal_of))
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="otlp-kafka", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except BackpressureError as exc:
                log.warning("otlp-kafka paused: kafka not acknowledging", reason=exc.reason)
                self._stop.wait(self.delivery.retry_after_s)
            except KafkaException as exc:
                self.delivery.metrics.errors.labels(self.source, "kafka").inc()
                log.warning("otlp-kafka consumer error", error=str(exc))
                self._stop.wait(1.0)
