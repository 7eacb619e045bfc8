"""The topic catalogue: the one source of truth for every Kafka topic.

Everything else is generated from it: ``aiops topics apply`` (the broker),
``deploy/strimzi/kafka-topics.yaml`` (Strimzi/AMQ Streams ``KafkaTopic``s) and
``deploy/asyncapi.yaml`` (AsyncAPI 3 for downstream subscribers).

>>> topic_by_name("aiops.clusters").cleanup_policy
'compact'
"""

from __future__ import annotations

from dataclasses import dataclass, field

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class Topic:
    """One topic: its name, layout, retention, key and value schema."""

    name: str
    description: str
    value_schema: str
    key: str
    key_reason: str
    partitions: int = 6
    replication: int = 3
    retention_ms: int = DAY_MS
    cleanup_policy: str = "delete"
    extra_config: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, str]:
        """Broker-side topic config."""
        cfg = {
            "cleanup.policy": self.cleanup_policy,
            "retention.ms": str(self.retention_ms),
            "compression.type": "producer",
            "max.message.bytes": str(8 * 1024 * 1024),
        }
        if self.cleanup_policy == "compact":
            cfg["min.cleanable.dirty.ratio"] = "0.1"
            cfg["segment.ms"] = str(HOUR_MS)
        cfg.update(self.extra_config)
        return cfg


TOPICS: tuple[Topic, ...] = (
    Topic(
        "aiops.metrics", "Prometheus-style metric scrapes, one columnar MetricBatch per scrape.",
        "metric_batch", "cluster/target",
        "a target's series always land on one partition, so per-series detector state has "
        "one owner and samples stay in order", partitions=12, retention_ms=DAY_MS,
    ),
    Topic(
        "aiops.gpu", "DCGM GPU telemetry, one GpuBatch per node scrape.", "gpu_batch",
        "cluster/node", "all GPUs of a node on one partition: per-GPU models keep order",
        partitions=6, retention_ms=DAY_MS,
    ),
    Topic(
        "aiops.spans", "OpenTelemetry spans, columnar SpanBatch.", "span_batch",
        "cluster/service", "RED aggregation per service stays on one partition",
        partitions=6, retention_ms=DAY_MS,
    ),
    Topic(
        "aiops.logs", "Log lines, columnar LogBatch.", "log_batch", "cluster/namespace/app",
        "template mining state per application has one owner", partitions=6,
        retention_ms=DAY_MS,
    ),
    Topic(
        "aiops.alerts", "Alertmanager alerts (firing and resolved).", "alert",
        "fingerprint", "firing and resolved of one alert stay in order",
        partitions=3, retention_ms=7 * DAY_MS,
    ),
    Topic(
        "aiops.clusters", "Fleet registry: latest ClusterRecord per cluster; tombstone = deleted.",
        "cluster_record", "cluster name",
        "log compaction keeps the latest record per cluster", partitions=3,
        retention_ms=-1, cleanup_policy="compact",
    ),
    Topic(
        "aiops.anomalies", "Anomalies from every detector.", "anomaly", "cluster",
        "the correlator groups by cluster first; one owner per cluster", partitions=6,
        retention_ms=7 * DAY_MS,
    ),
    Topic(
        "aiops.incidents", "Incident lifecycle records (OPEN, UPDATED, RESOLVED).", "incident",
        "incident_id", "updates of one incident stay in order", partitions=3,
        retention_ms=30 * DAY_MS,
    ),
    Topic(
        "aiops.rca", "Root-cause reports, one per incident version.", "rca_report",
        "incident_id", "reports follow their incident's order", partitions=3,
        retention_ms=30 * DAY_MS,
    ),
    Topic(
        "aiops.groundtruth", "Ground truth of injected faults (simulator FaultRecords).",
        "fault_record", "cluster",
        "a cluster's faults stay in order for the scorecard", partitions=1,
        retention_ms=30 * DAY_MS,
    ),
    Topic(
        "aiops.detector-state",
        "Checkpointed per-partition detector state of aiops detect (chunked DetectorState).",
        "detector_state", "group/topic/partition",
        "compaction keeps the latest state per input partition for its next owner",
        partitions=6, retention_ms=-1, cleanup_policy="compact",
    ),
    Topic(
        "aiops.deadletter", "Records that could not be processed, with the reason.",
        "dead_letter", "source topic", "one source's failures stay together",
        partitions=1, retention_ms=14 * DAY_MS,
    ),
)


def topic_by_name(name: str) -> Topic:
    """The catalogue entry for ``name``."""
    for topic in TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(f"topic {name!r} is not in the catalogue")
