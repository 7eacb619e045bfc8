"""``aiops detect``: a consumer-group worker from signal topics to ``aiops.anomalies``.

One confluent-kafka consumer in group ``group`` reads ``aiops.metrics`` (and ``aiops.gpu``,
``aiops.spans``, ``aiops.logs``: GPU rules, RED metrics + edges, log templates);
every assigned partition has its own stage (all per-series state of that partition).
Processing is at-least-once and restart-safe:

1. a poll batch is decoded and detected per partition; anomalies and dead letters are
   produced (anomaly ids are deterministic, so a replay yields the same ids);
2. every ``checkpoint_interval_s`` (and when a partition is revoked or the worker stops),
   the producer is flushed, each partition's state is written to ``aiops.detector-state``
   with the next offset, and only then that offset is committed;
3. a newly assigned partition restores its checkpoint and resumes at the checkpoint's
   offset, so the next owner continues exactly where the state left off (no cold start).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from schemas.codec import Codec
from streams.detect.checkpoint import CheckpointStore
from streams.detect.gpu_stage import GpuStage
from streams.detect.logs import LogStage
from streams.detect.metric_stage import BatchResult, MetricStage, StageConfig
from streams.detect.silence import SilenceStage
from streams.detect.telemetry import DetectMetrics
from streams.detect.traces import TraceStage
from streams.kafka.clients import make_consumer, make_producer
from streams.logs_setup import get_logger

log = get_logger(__name__)
METRICS_TOPIC = "aiops.metrics"
GPU_TOPIC = "aiops.gpu"


@dataclass
class WorkerConfig:
    """Where to read and write, and how often to checkpoint."""

    bootstrap: str
    group: str = "aiops-detect"
    metrics_topic: str = METRICS_TOPIC
    gpu_topic: str | None = GPU_TOPIC
    spans_topic: str | None = None
    logs_topic: str | None = None
    clusters_topic: str | None = None  # registry heartbeats: the cluster-silence rule
    cluster_silence_ms: int = 120_000
    red_window_ms: int = 15_000
    log_window_ms: int = 60_000
    anomalies_topic: str = "aiops.anomalies"
    deadletter_topic: str = "aiops.deadletter"
    state_topic: str = "aiops.detector-state"
    checkpoint_interval_s: float = 30.0
    batch_messages: int = 500
    poll_timeout_s: float = 0.5
    gpu_throttle_ratio: float = 0.1
    stage: StageConfig = field(default_factory=StageConfig)


class DetectWorker:
    """The consume -> detect -> produce -> checkpoint -> commit loop."""

    def __init__(self, config: WorkerConfig, metrics: DetectMetrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or DetectMetrics()
        self.stages: dict[tuple[str, int], Any] = {}
        self.next_offset: dict[tuple[str, int], int] = {}
        self.producer = make_producer(config.bootstrap)
        self.checkpoints = CheckpointStore(config.bootstrap, topic=config.state_topic)
        self.anomaly_codec = Codec("anomaly")
        self.dead_codec = Codec("dead_letter")
        self.metric_codec = Codec("metric_batch")
        self.consumer: Consumer | None = None
        self.stop_event = threading.Event()
        self.produce_errors: list[str] = []
        self.last_checkpoint = time.monotonic()
        self.callback_error: Exception | None = None
        self._end_checked: dict[tuple[str, int], tuple[float, bool]] = {}

    # -- rebalance -----------------------------------------------------------------
    def _new_stage(self, topic: str) -> Any:
        cfg = self.config
        if topic == cfg.gpu_topic:
            return GpuStage(cfg.gpu_throttle_ratio)
        if topic == cfg.spans_topic:
            return TraceStage(cfg.red_window_ms, cfg.red_window_ms)
        if topic == cfg.logs_topic:
            return LogStage(cfg.log_window_ms)
        if topic == cfg.clusters_topic:
            return SilenceStage(cfg.cluster_silence_ms)
        return MetricStage(self._metric_config())

    def _metric_config(self) -> StageConfig:
        """The metric stage's settings; event rates are counted over the RED window."""
        return replace(self.config.stage, event_window_ms=self.config.red_window_ms)

    def _restore(self, topic: str, blob: bytes) -> Any:
        cfg = self.config
        if topic == cfg.gpu_topic:
            return GpuStage.from_bytes(blob, cfg.gpu_throttle_ratio)
        if topic == cfg.spans_topic:
            return TraceStage.from_bytes(blob)
        if topic == cfg.logs_topic:
            return LogStage.from_bytes(blob)
        if topic == cfg.clusters_topic:
            return SilenceStage.from_bytes(blob, cfg.cluster_silence_ms)
        return MetricStage.from_bytes(blob, self._metric_config())

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        by_topic: dict[str, list[int]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        restored = 0
        for topic, parts in by_topic.items():
            found = self.checkpoints.load(self.config.group, topic, parts)
            for tp in partitions:
                if tp.topic != topic:
                    continue
                ck = found.get(tp.partition)
                key = (topic, tp.partition)
                if ck is not None:
                    self.stages[key] = self._restore(topic, ck.data)
                    tp.offset = ck.offset
                    self.next_offset[key] = ck.offset
                    restored += 1
                else:
                    self.stages[key] = self._new_stage(topic)
        consumer.incremental_assign(partitions)
        log.info("partitions assigned", partitions=[f"{t.topic}/{t.partition}" for t in
                                                    partitions], restored=restored)
        self._update_gauges()

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = [(tp.topic, tp.partition) for tp in partitions]
        self._checkpoint(keys)
        for k in keys:
            self.stages.pop(k, None)
            self.next_offset.pop(k, None)
        consumer.incremental_unassign(partitions)
        log.info("partitions revoked", partitions=[f"{t}/{p}" for t, p in keys])
        self._update_gauges()

    def on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.stages.pop((tp.topic, tp.partition), None)
            self.next_offset.pop((tp.topic, tp.partition), None)
        consumer.incremental_unassign(partitions)
        log.warning("partitions lost", n=len(partitions))

    # -- loop -------------------------------------------------------------------------
    def start(self) -> Consumer:
        cfg = self.config
        self.consumer = make_consumer(cfg.bootstrap, cfg.group, ready_check=True)
        topics = [t for t in (cfg.metrics_topic, cfg.gpu_topic, cfg.spans_topic, cfg.logs_topic,
                              cfg.clusters_topic) if t]
        self.consumer.subscribe(topics, on_assign=self._guard(self.on_assign),
                                on_revoke=self._guard(self.on_revoke),
                                on_lost=self._guard(self.on_lost))
        return self.consumer

    def start_manual(self) -> Consumer:
        """A consumer without a subscription: the caller assigns partitions itself
        (through :meth:`on_assign`, which restores their checkpoints)."""
        self.consumer = make_consumer(self.config.bootstrap, self.config.group, ready_check=True)
        return self.consumer

    def _guard(self, fn: Any) -> Any:
        """Keep a callback's exception and re-raise it from :meth:`step` (librdkafka would
        otherwise mangle it)."""

        def wrapped(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            try:
                fn(consumer, partitions)
            except Exception as exc:  # noqa: BLE001 - re-raised by step()
                log.exception("rebalance callback failed", callback=fn.__name__)
                self.callback_error = exc

        return wrapped

    def run(self, max_seconds: float | None = None) -> None:
        """Loop until :meth:`stop` (or ``max_seconds``); checkpoint and close on exit."""
        consumer = self.consumer or self.start()
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        try:
            while not self.stop_event.is_set():
                if deadline is not None and time.monotonic() > deadline:
                    break
                self.step(consumer)
            self._checkpoint(list(self.stages))
        finally:
            consumer.close()
            self.producer.flush(30)

    def step(self, consumer: Consumer) -> int:
        """One poll batch; returns the number of messages handled."""
        msgs = consumer.consume(self.config.batch_messages, timeout=self.config.poll_timeout_s)
        if self.callback_error is not None:
            err, self.callback_error = self.callback_error, None
            raise RuntimeError("rebalance callback failed") from err
        by_part: dict[tuple[str, int], list[Message]] = {}
        for m in msgs:
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error", error=str(m.error()))
                continue
            by_part.setdefault((m.topic(), m.partition()), []).append(m)
        for key, part_msgs in by_part.items():
            stage = self.stages.get(key)
            if stage is None:  # revoked in this very poll
                continue
            t0 = time.perf_counter()
            values = [m.value() or b"" for m in part_msgs]
            res: BatchResult = (stage.process(values, [m.key() for m in part_msgs])
                                if isinstance(stage, SilenceStage) else stage.process(values))
            self.metrics.batch_seconds.observe(time.perf_counter() - t0)
            self._emit(res, part_msgs, key)
            self.next_offset[key] = part_msgs[-1].offset() + 1
        self._silence()
        if time.monotonic() - self.last_checkpoint >= self.config.checkpoint_interval_s:
            self._checkpoint(list(self.stages))
        self._update_gauges()
        return len(msgs)

    def _silence(self) -> None:
        """Report silent clusters against the newest heartbeat of any cluster this worker
        owns (event time: a backlog on another topic cannot fake a silence).

        Nor can a backlog on another partition of the registry topic: a partition that
        is not read to its end is judged by its own newest heartbeat (its records are in
        production order), since the other partitions' newest may be ahead of heartbeats
        it holds but has not delivered yet.  The end is checked with the broker, and only
        when a report is due."""
        silence = {k: s for k, s in self.stages.items() if isinstance(s, SilenceStage)}
        if not silence:
            return
        newest = max(s.max_ts for s in silence.values())
        for key, stage in silence.items():
            now = newest
            if stage.max_ts < newest and stage.due(newest) and not self._read_to_end(key):
                now = stage.max_ts
            found = stage.tick(now)
            if found:
                self._emit(BatchResult(anomalies=found), [], key)

    def _read_to_end(self, key: tuple[str, int]) -> bool:
        """Whether partition ``key`` has been processed up to its high watermark (asked
        of the broker at most once a second per partition; False when it cannot say)."""
        now = time.monotonic()
        checked = self._end_checked.get(key)
        if checked is not None and now - checked[0] < 1.0:
            return checked[1]
        done = False
        if self.consumer is not None:
            try:
                _low, high = self.consumer.get_watermark_offsets(TopicPartition(*key),
                                                                 timeout=2.0, cached=False)
                done = self.next_offset.get(key, 0) >= high
            except KafkaException as exc:
                log.warning("watermark query failed", partition=f"{key[0]}/{key[1]}",
                            error=str(exc))
        self._end_checked[key] = (now, done)
        return done

    def _emit(self, res: BatchResult, msgs: list[Message], key: tuple[str, int]) -> None:
        for a in res.anomalies:
            self._produce(self.config.anomalies_topic, a["cluster"].encode(),
                          self.anomaly_codec.encode(a))
        for b in res.metric_batches:  # RED metrics and edges: back onto the metrics topic
            self._produce(self.config.metrics_topic, f"{b['cluster']}/{b['target']}".encode(),
                          self.metric_codec.encode(b))
        for i, reason in res.dead:
            m = msgs[i]
            rec = {"topic": m.topic(), "partition": m.partition(), "offset": m.offset(),
                   "key": m.key(), "error": reason, "error_type": reason.split(":", 1)[0],
                   "stage": "DECODE", "component": "detect", "raw": m.value() or b"",
                   "ts": int(time.time() * 1000)}
            self._produce(self.config.deadletter_topic, m.topic().encode(),
                          self.dead_codec.encode(rec))
        topic = key[0]
        self.metrics.samples.labels(topic).inc(res.samples)
        self.metrics.messages.labels(topic).inc(len(msgs))
        self.metrics.dead.labels(topic).inc(len(res.dead))
        self.metrics.evicted.labels(topic).inc(res.evicted)
        for a in res.anomalies:
            self.metrics.anomalies.labels(a["type"]).inc()
        self.producer.poll(0)

    def _produce(self, topic: str, key: bytes, value: bytes) -> None:
        def on_delivery(err: object, _msg: object) -> None:
            if err is not None:
                self.produce_errors.append(str(err))

        while True:
            try:
                self.producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                return
            except BufferError:
                self.producer.poll(0.1)

    def _checkpoint(self, keys: list[tuple[str, int]]) -> None:
        """Flush outputs, save state, then commit the offsets that state reflects."""
        self.last_checkpoint = time.monotonic()
        keys = [k for k in keys if k in self.next_offset and k in self.stages]
        if not keys:
            return
        left = self.producer.flush(60)
        if left or self.produce_errors:
            errs, self.produce_errors = self.produce_errors, []
            raise RuntimeError(f"anomalies not delivered ({left} queued): {errs[:3]}")
        commits = []
        for topic, part in keys:
            off = self.next_offset[(topic, part)]
            blob = self.stages[(topic, part)].to_bytes()
            secs = self.checkpoints.save(self.config.group, topic, part, off, blob)
            self.metrics.checkpoint_seconds.observe(secs)
            self.metrics.checkpoint_bytes.labels(topic).set(len(blob))
            commits.append(TopicPartition(topic, part, off))
        if self.consumer is not None:
            self.consumer.commit(offsets=commits, asynchronous=False)
        log.info("checkpointed", partitions=len(commits))

    def _update_gauges(self) -> None:
        live: dict[str, int] = {}
        for (topic, _p), stage in self.stages.items():
            live[topic] = live.get(topic, 0) + stage.live_series()
        for topic, n in live.items():
            self.metrics.live.labels(topic).set(n)
        self.metrics.partitions.set(len(self.stages))
        self.metrics.lag.set(self.lag())

    def lag(self) -> int:
        """Messages behind the high watermark over assigned partitions."""
        if self.consumer is None:
            return 0
        total = 0
        for (topic, part), off in list(self.next_offset.items()):
            marks = self.consumer.get_watermark_offsets(TopicPartition(topic, part),
                                                        cached=True)
            if marks:
                total += max(marks[1] - off, 0)
        return total

    def stop(self) -> None:
        self.stop_event.set()
