"""Direct mode: Avro batches straight to Kafka (for throughput tests and the demo).

Per cluster tick: one MetricBatch per target (key ``cluster/target``), one GpuBatch per GPU node
(``cluster/node``), one SpanBatch per service (``cluster/service``), one LogBatch per
namespace/app (``cluster/namespace/app``), Alert records when a fault's alert fires or resolves
(key = fingerprint) and a ClusterRecord heartbeat (key = cluster name).
A dark cluster sends nothing. FaultRecords go to ``aiops.groundtruth`` keyed by cluster.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException

from schemas.codec import Codec
from streams.kafka.clients import make_producer
from streams.logs_setup import get_logger
from streams.simulator.alerts import AlertTracker, alert_record
from streams.simulator.emitters.base import Emitter
from streams.simulator.encoder import TargetEncoder, batch_id
from streams.simulator.engine import ClusterSim, TickOutput

log = get_logger(__name__)
SOURCE = "simulator"


def _uuid(*parts: object) -> str:
    h = batch_id(*parts)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def cluster_record(sim: ClusterSim, out: TickOutput, endpoints: dict[str, str] | None = None
                   ) -> dict:
    """The ClusterRecord heartbeat of one cluster tick."""
    c = sim.cluster
    health = float(max(0.0, 1.0 - out.frame.error_ratio.mean() * 5)) if len(
        out.frame.error_ratio) else 1.0
    has_sriov = any(n.sriov_vfs for n in c.nodes)
    return {
        "cluster_id": _uuid("cluster", sim.seed, c.name), "name": c.name, "type": c.type,
        "platform": "OPENSHIFT", "version": c.version, "region": c.region,
        "environment": c.labels.get("env", "production"), "labels": {**c.labels,
                                                                     "simulated": "true"},
        "endpoints": dict(endpoints or {}),
        "capabilities": {"gpu_count": len(c.gpus), "gpu_models": sorted({g.model for g in c.gpus}),
                         "has_ptp": c.has_ptp, "has_sriov": has_sriov, "has_dpdk": has_sriov,
                         "has_prometheus": True, "has_loki": True, "has_tempo": True},
        "status": "ONLINE" if health > 0.8 else "DEGRADED", "health_score": round(health, 4),
        "last_seen": out.ts, "record_version": out.ts,
    }


def span_batches(cluster: str, spans: list[dict], ts: int, seed: int, k: int) -> dict[str, dict]:
    """SpanBatch records by service."""
    by: dict[str, list[dict]] = {}
    for s in spans:
        by.setdefault(s["service"], []).append(s)
    return {svc: {
        "batch_id": batch_id("spans", seed, cluster, svc, k), "cluster": cluster,
        "source": SOURCE, "received_ts": ts,
        "trace_ids": [s["trace_id"] for s in rows], "span_ids": [s["span_id"] for s in rows],
        "parent_span_ids": [s["parent_span_id"] for s in rows],
        "services": [s["service"] for s in rows], "operations": [s["operation"] for s in rows],
        "kinds": [s["kind"] for s in rows], "start_ns": [s["start_ns"] for s in rows],
        "duration_ns": [s["duration_ns"] for s in rows],
        "status_codes": [s["status_code"] for s in rows],
        "status_messages": [s["status_message"] for s in rows],
        "attributes": [s["attributes"] for s in rows], "resources": [s["resource"] for s in rows],
    } for svc, rows in by.items()}


def log_batches(cluster: str, logs: list[dict], ts: int, seed: int, k: int) -> dict[str, dict]:
    """LogBatch records by ``namespace/app``."""
    by: dict[str, list[dict]] = {}
    for r in logs:
        by.setdefault(f"{r['labels'].get('namespace', '')}/{r['labels'].get('app', '')}",
                      []).append(r)
    return {key: {
        "batch_id": batch_id("logs", seed, cluster, key, k), "cluster": cluster,
        "source": SOURCE, "received_ts": ts,
        "timestamps_ns": [r["ts_ns"] for r in rows], "labels": [r["labels"] for r in rows],
        "levels": [r["level"] for r in rows], "bodies": [r["body"] for r in rows],
        "trace_ids": [r["trace_id"] for r in rows], "span_ids": [r["span_id"] for r in rows],
        "metadata": [r["metadata"] for r in rows],
    } for key, rows in by.items()}


class DirectEmitter(Emitter):
    """Publishes every tick to the catalogue topics with one idempotent producer."""

    def __init__(self, bootstrap: str, *, spans: bool = True, logs: bool = True,
                 producer: Any | None = None, topics: dict[str, str] | None = None,
                 **producer_overrides: Any) -> None:
        """``topics`` renames catalogue topics (e.g. for an isolated test run)."""
        self.bootstrap = bootstrap
        self.topics = dict(topics or {})
        self.with_spans = spans
        self.with_logs = logs
        self.producer = producer
        self.overrides = producer_overrides
        self.codecs = {n: Codec(n) for n in ("gpu_batch", "span_batch", "log_batch",
                                              "cluster_record", "fault_record", "alert")}
        self.trackers: dict[str, AlertTracker] = {}
        self.encoders: dict[str, list[TargetEncoder]] = {}
        self.counts = {"messages": 0, "samples": 0, "gpu_samples": 0, "spans": 0, "logs": 0,
                       "alerts": 0, "bytes": 0}
        self.errors: list[str] = []

    def setup(self) -> None:
        if self.producer is None:
            self.producer = make_producer(self.bootstrap, **self.overrides)

    def _send(self, topic: str, key: str, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(self.topics.get(topic, topic), key=key.encode(), value=value,
                                      on_delivery=self._delivered)
                break
            except BufferError:
                self.producer.poll(0.05)
        self.counts["messages"] += 1
        self.counts["bytes"] += len(value)

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(f"{msg.topic()}: {err}")

    def add(self, sim: ClusterSim, out: TickOutput, k: int) -> None:
        if out.dark:
            return
        name = sim.cluster.name
        if name not in self.encoders:
            self.encoders[name] = [TargetEncoder(name, SOURCE, t) for t in sim.table.targets]
        for enc, target in zip(self.encoders[name], sim.table.targets, strict=True):
            value = enc.encode(batch_id("metrics", sim.seed, name, target.name, k), out.ts,
                               out.values[target.rows])
            self._send("aiops.metrics", f"{name}/{target.name}", value)
            self.counts["samples"] += enc.n
        for node, samples in out.gpu_by_node.items():
            rec = {"batch_id": batch_id("gpu", sim.seed, name, node, k), "cluster": name,
                   "source": SOURCE, "node": node, "scrape_ts": out.ts, "samples": samples}
            self._send("aiops.gpu", f"{name}/{node}", self.codecs["gpu_batch"].encode(rec))
            self.counts["gpu_samples"] += len(samples)
        if self.with_spans:
            for svc, rec in span_batches(name, out.spans, out.ts, sim.seed, k).items():
                self._send("aiops.spans", f"{name}/{svc}", self.codecs["span_batch"].encode(rec))
            self.counts["spans"] += len(out.spans)
        if self.with_logs:
            for key, rec in log_batches(name, out.logs, out.ts, sim.seed, k).items():
                self._send("aiops.logs", f"{name}/{key}", self.codecs["log_batch"].encode(rec))
            self.counts["logs"] += len(out.logs)
        tracker = self.trackers.setdefault(name, AlertTracker())
        for alert in tracker.transitions(sim.faults, out.ts):
            rec = alert_record(alert, name, out.ts)
            self._send("aiops.alerts", rec["fingerprint"], self.codecs["alert"].encode(rec))
            self.counts["alerts"] += 1
        self._send("aiops.clusters", name,
                   self.codecs["cluster_record"].encode(cluster_record(sim, out)))
        self.producer.poll(0)

    def add_truth(self, records: list[dict]) -> None:
        for r in records:
            self._send("aiops.groundtruth", r["cluster"], self.codecs["fault_record"].encode(r))

    def flush(self) -> None:
        if self.producer is None:
            return
        left = self.producer.flush(60)
        if left:
            raise KafkaException(f"{left} simulator messages not delivered after 60 s")
        if self.errors:
            raise KafkaException(f"delivery failed: {self.errors[:3]}")

    def close(self) -> None:
        self.producer = None  # librdkafka handle is destroyed with its last reference

    def stats(self) -> dict[str, float]:
        return dict(self.counts)
