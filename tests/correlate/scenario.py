"""Two unrelated faults and one cascading fault, as Anomaly and Alert records.

* GPU: an XID error and a temperature spike on ``n1/GPU-aaa`` (node n1).
* PTP: clock offset on ``n2/ens1f0`` (node n2), PTP domain 24.
* Cascade: redis (namespace cache, node n3) runs out of memory, its caller cart
  (namespace shop, node n4) gets slow, and cart's caller frontend (namespace web, node n5)
  gets errors; a critical alert fires on redis and later resolves.  Only the call graph
  (frontend -> cart -> redis) links the three services.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import MIGRATIONS_DIR, migrate
from schemas.codec import Codec
from streams.kafka.clients import make_consumer

EDGES = (("frontend", "cart"), ("cart", "redis"))
#: The migrations these tests need (history tables up to the results), so the tests do
#: not depend on unrelated later migrations.
NEEDED_MIGRATIONS = ("0001", "0002", "0003", "0004", "0005", "0006")


def history_database(clickhouse_url: str, database: str, scratch: Path) -> None:
    """Create ``database`` with the history and results tables."""
    scratch.mkdir(parents=True, exist_ok=True)
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name[:4] in NEEDED_MIGRATIONS:
            shutil.copy(path, scratch / path.name)
    client = connect(clickhouse_url)
    try:
        client.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        migrate(client, database, scratch)
    finally:
        client.close()


def anomaly(cluster: str, aid: str, entity_type: str, entity: str, name: str,
            labels: dict[str, str], severity: str, ts: int, score: float = 8.0,
            kind: str = "SPIKE", detector: str = "test") -> dict[str, Any]:
    return {
        "anomaly_id": aid, "cluster": cluster, "entity_type": entity_type, "entity": entity,
        "name": name, "labels": {"cluster": cluster, **labels}, "series_id": 0, "type": kind,
        "actual": 10.0, "expected": 1.0, "lower": 0.5, "upper": 1.5, "score": score,
        "confidence": 0.9, "severity": severity, "detector": detector, "rule": None,
        "start_ts": ts, "sample_ts": ts, "detected_ts": ts,
    }


def alert(cluster: str, fingerprint: str, status: str, ts: int, ends: int | None = None
          ) -> dict[str, Any]:
    labels = {"alertname": "RedisOutOfMemory", "namespace": "cache", "pod": "redis-0",
              "service": "redis", "node": "n3", "severity": "critical", "cluster": cluster}
    return {
        "fingerprint": fingerprint, "cluster": cluster, "status": status,
        "alertname": "RedisOutOfMemory", "severity": "critical", "labels": labels,
        "annotations": {"summary": "redis is out of memory"}, "starts_at": ts,
        "ends_at": ends, "generator_url": "http://prom/graph", "receiver": "aiops",
        "group_key": "{}:{alertname=\"RedisOutOfMemory\"}", "received_ts": ts,
    }


def first_wave(cluster: str, t0: int) -> list[dict[str, Any]]:
    """The first anomaly of each fault."""
    return [
        anomaly(cluster, "gpu-xid", "GPU", "n1/GPU-aaa", "DCGM_FI_DEV_XID_ERRORS",
                {"node": "n1", "UUID": "GPU-aaa", "gpu": "0"}, "HIGH", t0, kind="PATTERN_BREAK"),
        anomaly(cluster, "ptp-offset", "PTP_CLOCK", "n2/ens1f0", "openshift_ptp_offset_ns",
                {"node": "n2", "iface": "ens1f0", "domain": "24", "process": "ptp4l"},
                "CRITICAL", t0 + 1000, score=20.0),
        anomaly(cluster, "redis-mem", "POD", "cache/redis-0", "container_memory_rss",
                {"namespace": "cache", "pod": "redis-0", "service": "redis", "node": "n3"},
                "HIGH", t0 + 2000, score=15.0),
    ]


def second_wave(cluster: str, t0: int) -> list[dict[str, Any]]:
    """The rest: GPU temperature, cart latency, frontend errors."""
    return [
        anomaly(cluster, "gpu-temp", "GPU", "n1/GPU-aaa", "DCGM_FI_DEV_GPU_TEMP",
                {"node": "n1", "UUID": "GPU-aaa", "gpu": "0"}, "MEDIUM", t0 + 5000),
        anomaly(cluster, "cart-latency", "SERVICE", "shop/cart", "http_server_latency_p99",
                {"namespace": "shop", "service": "cart"}, "MEDIUM", t0 + 20_000, score=6.0),
        anomaly(cluster, "frontend-errors", "SERVICE", "web/frontend",
                "http_server_errors_ratio", {"namespace": "web", "service": "frontend"},
                "MEDIUM", t0 + 30_000, score=5.0),
    ]


def read_all(bootstrap: str, topic: str, codec: str, timeout: float = 10.0) -> list[dict]:
    """Every record now on ``topic``, decoded, in partition/offset order."""
    c = make_consumer(bootstrap, f"read-{time.time_ns()}")
    out: list[dict] = []
    try:
        md = c.list_topics(topic, timeout=10).topics[topic]
        tps = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.partitions]
        highs = {tp.partition: c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps}
        left = {p for p, h in highs.items() if h > 0}
        c.assign(tps)
        end = time.monotonic() + timeout
        dec = Codec(codec)
        while left and time.monotonic() < end:
            for m in c.consume(500, timeout=0.5):
                if m.error():
                    continue
                if m.offset() < highs[m.partition()]:
                    out.append(dec.decode(m.value()))
                if m.offset() + 1 >= highs[m.partition()]:
                    left.discard(m.partition())
    finally:
        c.close()
    return out
