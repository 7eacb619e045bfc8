"""The consume loop of ``aiops sink``: decode, batch, write, then commit.

Per flush round (at most one batch per partition):

1. dead letters produced so far are flushed to Kafka;
2. one synchronous commit records, per partition, the batch's first offset with the
   *intent* ``[first, last]`` as commit metadata;
3. each batch is inserted (one insert and token per table);
4. the offset after the batch is committed (async, no metadata).

After a crash the new owner of a partition reads the intent and rebuilds exactly
that batch, so its token matches and ClickHouse drops the duplicate (docs/history.md).
ClickHouse down: consumption pauses, writes retry with backoff, nothing is dropped.
The sink that owns partition 0 of the (first) span topic also runs the service edge
builder every ``edges_interval_s`` (:mod:`connectors.sinks.service_edges`), the one that
owns partition 0 of the (first) metric topic the rollup builders every
``rollup_interval_s`` (``metrics_1m``) and ``rollup_1h_interval_s``
(:mod:`connectors.sinks.metric_rollups`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from clickhouse_connect.driver.exceptions import OperationalError
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from connectors.clickhouse.migrations import MigrationError
from connectors.sinks.base import Batch, Intent, Record
from connectors.sinks.clickhouse import ClickHouseSink
from connectors.sinks.metric_rollups import MetricRollupBuilder
from connectors.sinks.service_edges import ServiceEdgeBuilder
from connectors.sinks.tables import family_for
from schemas.codec import Codec
from schemas.errors import CodecError
from streams.kafka.clients import make_consumer, make_producer
from streams.logs_setup import get_logger
from streams.ops_server import set_ready
from streams.sink.builders import PeriodicBuilder
from streams.sink.telemetry import SinkTelemetry

log = get_logger(__name__)

DLQ_TOPIC = "aiops.deadletter"
MAX_BACKOFF_S = 30.0
FLUSH_CHECK_S = 0.2  # while decoding one fetch, look for ready batches this often


class SinkWorker:
    """Consumes ``topics`` (topic -> Avro schema name) into ClickHouse ``database``."""

    def __init__(
        self,
        bootstrap: str,
        clickhouse_url: str,
        database: str,
        topics: Mapping[str, str],
        *,
        group: str = "aiops-sink",
        max_rows: int = 100_000,
        max_age_s: float = 1.0,
        ttl_days: Mapping[str, int] | None = None,
        dlq_topic: str = DLQ_TOPIC,
        telemetry: SinkTelemetry | None = None,
        consumer_overrides: Mapping[str, Any] | None = None,
        insert_threads: int = 4,
        edges_interval_s: float = 5.0,
        rollup_interval_s: float = 60.0,
        rollup_1h_interval_s: float = 600.0,
    ) -> None:
        self.topics = dict(topics)
        self.dlq_topic = dlq_topic
        self.telemetry = telemetry or SinkTelemetry()
        self.sink = ClickHouseSink(
            clickhouse_url, database, {t: family_for(s) for t, s in self.topics.items()},
            max_rows=max_rows, max_age_s=max_age_s, ttl_days=ttl_days,
            reject=self._dead_letter, telemetry=self.telemetry)
        self.consumer = make_consumer(bootstrap, group, ready_check=True, **{
            "enable.partition.eof": True, **dict(consumer_overrides or {})})
        self.producer = make_producer(bootstrap, **{"linger.ms": 5})
        self.dlq_codec = Codec("dead_letter")
        self.pool = ThreadPoolExecutor(max_workers=insert_threads,
                                       thread_name_prefix="sink-insert")
        self.inflight: list[tuple[Batch, Future[None]]] = []
        self.stop_event = threading.Event()
        self.paused = False
        self.backoff_s = 0.5
        self.retry_at = 0.0
        self.assigned: set[tuple[str, int]] = set()
        self.builders = self._builders(database, edges_interval_s, {
            "metrics_1m": rollup_interval_s, "metrics_1h": rollup_1h_interval_s})

    def _builders(self, database: str, edges_interval_s: float,
                  rollup_intervals: Mapping[str, float]) -> list[PeriodicBuilder]:
        """Edge and rollup builders, each led by partition 0 of its (first) topic."""
        def first(schema: str) -> str | None:
            return min((t for t, s in self.topics.items() if s == schema), default=None)

        client, inserted = (lambda: self.sink.client), self.telemetry.inserted
        builders = []
        spans, metrics = first("span_batch"), first("metric_batch")
        if spans and edges_interval_s > 0:
            builders.append(PeriodicBuilder(
                "service_edges", ServiceEdgeBuilder(client, database, inserted=inserted),
                (spans, 0), edges_interval_s))
        for table, interval_s in rollup_intervals.items():
            if metrics and interval_s > 0:
                rollup = MetricRollupBuilder(client, database, table,
                                             inserted=self.telemetry.built)
                builders.append(PeriodicBuilder(
                    table, rollup, (metrics, 0), interval_s, background=True,
                    after=lambda started, r=rollup: self.telemetry.rollup_progress(
                        r.table, started, *r.position())))
        return builders

    # -- rebalance -----------------------------------------------------------
    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        log.info("partitions assigned", partitions=[f"{p.topic}/{p.partition}" for p in partitions])
        if not partitions:
            return
        self.assigned.update((p.topic, p.partition) for p in partitions)
        committed = consumer.committed(partitions, timeout=30)
        for tp in committed:
            intent = Intent.decode(getattr(tp, "metadata", None))
            self.sink.set_intent((tp.topic, tp.partition), intent)
            if intent is not None:
                log.info("replaying intent", topic=tp.topic, partition=tp.partition,
                         first=intent.first, last=intent.last)
        if self.paused:
            consumer.pause(partitions)

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        log.info("partitions revoked", partitions=[f"{p.topic}/{p.partition}" for p in partitions])
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        for builder in self.builders:  # another sink may lead next: let no slice overlap
            if builder.leader in revoked:
                builder.halt()
        # Pending batches are dropped, not flushed: the next owner replays them from the
        # committed offset and intent, and the tokens make that replay exact.
        self.sink.drop((tp.topic, tp.partition) for tp in partitions)
        self.assigned.difference_update((tp.topic, tp.partition) for tp in partitions)

    # -- records -------------------------------------------------------------
    def _dead_letter(self, record: Record, exc: Exception, stage: str) -> None:
        value = self.dlq_codec.encode({
            "topic": record.topic, "partition": record.partition, "offset": record.offset,
            "key": record.key, "error": str(exc)[:4000], "error_type": type(exc).__name__,
            "stage": stage, "component": "sink", "raw": record.value or b"",
            "ts": int(time.time() * 1000)})
        self.producer.produce(self.dlq_topic, key=record.topic.encode(), value=value)
        self.telemetry.dead_letters.labels(record.topic, stage).inc()
        log.warning("dead-lettered", topic=record.topic, partition=record.partition,
                    offset=record.offset, stage=stage, error=str(exc)[:200])

    def _handle(self, msg: Message) -> None:
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                self.sink.partition_eof((msg.topic(), msg.partition()))
            else:
                log.warning("consumer error", error=str(err))
            return
        record = Record(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(),
                        msg.timestamp()[1])
        try:
            decoded, rows = self.sink.decode(record)
        except CodecError as exc:
            self._dead_letter(record, exc, "DECODE")
            self.sink.add(record, None, 0)
            return
        except Exception as exc:  # noqa: BLE001 - never stop on one bad record
            self._dead_letter(record, exc, "VALIDATE")
            self.sink.add(record, None, 0)
            return
        self.sink.add(record, decoded, rows)

    # -- writing -------------------------------------------------------------
    def _round(self, ready: list[Batch]) -> list[Batch]:
        seen: set[tuple[str, int]] = set()
        first = []
        for batch in ready:
            if batch.key not in seen:
                seen.add(batch.key)
                first.append(batch)
        return first

    def flush_ready(self, everything: bool = False, wait: bool = True) -> bool:
        """Write ready batches, a round at a time; False (and paused) when a write failed.

        ``wait=False`` (the consume loop) returns while a round's inserts run, so the next
        batches decode meanwhile; the following round starts once this one finished.
        """
        while True:
            if self.inflight:
                if not wait and not all(job.done() for _, job in self.inflight):
                    return True
                if not self._finish_round():
                    return False
            ready = self.sink.ready(everything=everything)
            if not ready:
                self.telemetry.pending_rows.set(self.sink.pending_rows)
                return True
            if not self._start_round(self._round(ready)):
                return False

    def _start_round(self, batches: list[Batch]) -> bool:
        log.debug("writing", batches=[(b.topic, b.partition, b.span.first, b.span.last)
                                      for b in batches])
        try:
            if self.producer.flush(10) > 0:
                raise KafkaException("dead letters not delivered")
            self.consumer.commit(offsets=[
                TopicPartition(b.topic, b.partition, b.span.first, metadata=b.span.encode())
                for b in batches], asynchronous=False)
            # convert here (families keep state), insert in parallel (one batch per partition)
            for batch in batches:
                self.inflight.append(
                    (batch, self.pool.submit(self.sink.insert, batch, self.sink.convert(batch))))
        except Exception as exc:  # noqa: BLE001 - any failure: pause and retry later
            jobs, self.inflight = self.inflight, []
            for batch, job in jobs:  # whatever was submitted before the failure
                with contextlib.suppress(Exception):
                    job.result()
                    self._written(batch)
            self._pause(exc)
            return False
        return True

    def _finish_round(self) -> bool:
        jobs, self.inflight = self.inflight, []
        for _, job in jobs:
            with contextlib.suppress(Exception):
                job.result()
        # records ClickHouse refused were dead-lettered by the insert threads: deliver
        # them before the commits below move past their offsets
        if len(self.producer) and self.producer.flush(10) > 0:
            self._pause(KafkaException("dead letters not delivered"))
            return False
        failure: Exception | None = None
        for batch, job in jobs:
            try:
                job.result()
            except Exception as exc:  # noqa: BLE001 - retried after a pause
                failure = failure or exc
                continue
            self._written(batch)
        if failure is not None:
            self._pause(failure)
            return False
        if self.paused:
            self._resume()
        return True

    def _written(self, batch: Batch) -> None:
        self.sink.done(batch)
        acked = time.time()
        for record, _ in batch.items:
            self.telemetry.lagged(record.topic, acked - record.timestamp_ms / 1000)
        try:
            self.consumer.commit(offsets=[TopicPartition(
                batch.topic, batch.partition, batch.last_offset + 1, metadata="")],
                asynchronous=True)
        except KafkaException as exc:  # the intent stays committed: a replay dedups
            log.warning("commit after write failed", error=str(exc))

    def _pause(self, exc: Exception) -> None:
        self.telemetry.failures.inc()
        self.sink.reconnect()
        self.retry_at = time.monotonic() + self.backoff_s
        log.warning("write failed; pausing", error=str(exc)[:300], retry_in_s=self.backoff_s)
        self.backoff_s = min(self.backoff_s * 2, MAX_BACKOFF_S)
        if not self.paused:
            self.paused = True
            set_ready("clickhouse", False, f"writes fail, consumption paused: {str(exc)[:200]}")
            self.telemetry.paused.set(1)
            self.consumer.pause(self.consumer.assignment())

    def _resume(self) -> None:
        self.paused = False
        self.backoff_s = 0.5
        set_ready("clickhouse", True)
        self.telemetry.paused.set(0)
        self.consumer.resume(self.consumer.assignment())
        log.info("writes succeed again; consumption resumed")

    # -- service edges, metric rollups ----------------------------------------
    def build(self, force: bool = False) -> None:
        """Run the builders this sink leads that are due (``force``: all, now)."""
        for builder in self.builders:
            builder.maybe_run(self.assigned, self.paused, force=force)

    # -- lifecycle -----------------------------------------------------------
    def setup(self, timeout_s: float = 120.0) -> None:
        """Migrate ClickHouse (retrying while it is unreachable)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.sink.setup()
                return
            except Exception as exc:
                cause = exc.__cause__ if isinstance(exc, MigrationError) else exc
                if not isinstance(cause, OperationalError) or time.monotonic() > deadline:
                    raise
                log.warning("ClickHouse not ready", error=str(exc)[:200])
                self.sink.reconnect()
                time.sleep(1.0)

    def run(self, shutdown_timeout_s: float = 30.0) -> None:
        """Consume until :meth:`stop`; then write what is pending and close."""
        self.setup()
        self.consumer.subscribe(list(self.topics), on_assign=self._on_assign,
                                on_revoke=self._on_revoke, on_lost=self._on_revoke)
        try:
            while not self.stop_event.is_set():
                if self.paused and time.monotonic() < self.retry_at:
                    for msg in self.consumer.consume(num_messages=1000, timeout=0.1):
                        self._handle(msg)
                    continue
                check_at = time.monotonic() + FLUSH_CHECK_S
                for msg in self.consumer.consume(num_messages=2000, timeout=0.05):
                    self._handle(msg)
                    # slow (full) decodes of a big fetch must not hold ready batches back
                    if not self.paused and time.monotonic() >= check_at:
                        self.flush_ready(wait=False)
                        check_at = time.monotonic() + FLUSH_CHECK_S
                self.flush_ready(wait=False)
                self.build()
            if self._drain(shutdown_timeout_s):
                self.build(force=True)
        finally:
            for builder in self.builders:
                builder.halt()
            self.consumer.close()
            self.producer.flush(10)
            self.pool.shutdown(wait=True)

    def _drain(self, timeout_s: float) -> bool:
        """Write every pending batch (True) or give up at the timeout (False)."""
        deadline = time.monotonic() + timeout_s
        while not self.flush_ready(everything=True):
            if time.monotonic() > deadline:
                log.error("shutdown with unwritten batches; they replay on restart",
                          rows=self.sink.pending_rows)
                return False
            time.sleep(max(0.0, min(self.retry_at, deadline) - time.monotonic()))
        return True

    def stop(self) -> None:
        """Ask :meth:`run` to finish (safe from signal handlers and other threads)."""
        self.stop_event.set()
