"""The cluster registry heartbeat: this scraper's ClusterRecord on the compacted topic.

Published on start and every ``heartbeat_interval`` (30 s) with key = cluster
name. Capabilities come from what the scrapes saw (GPU UUIDs/models from DCGM,
PTP/SR-IOV/DPDK metric families, a reachable Prometheus through federate/query
jobs) plus readiness probes of the configured ``endpoints`` (prometheus
``/-/ready``, loki and tempo ``/ready``). ``health_score`` is the share of
reachable sources (every scrape target's last ``up`` and every probed
endpoint); status is ONLINE at >= 0.9, DEGRADED below, UNKNOWN before anything
was checked (the first beat at start without endpoints). OFFLINE is decided
downstream when the heartbeats stop.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

import httpx

from connectors.publish.kafka import KafkaPublisher
from connectors.sources.base import ScrapeOutcome
from connectors.sources.config import ClusterIdentity
from schemas.codec import Codec
from schemas.topics import topic_by_name

CLUSTERS_TOPIC = topic_by_name("aiops.clusters").name
READY_PATHS = {"prometheus": "/-/ready", "thanos": "/-/ready", "loki": "/ready",
               "tempo": "/ready"}
ONLINE_THRESHOLD = 0.9


def cluster_uuid(name: str) -> str:
    """A stable id for a cluster name (UUIDv5), used when none is configured."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"aiops-nextgen:cluster:{name}"))


async def probe_endpoints(endpoints: dict[str, str], timeout_s: float = 3.0) -> dict[str, bool]:
    """Readiness of each known endpoint kind (unknown kinds are not probed)."""
    out: dict[str, bool] = {}
    async with httpx.AsyncClient(timeout=timeout_s, trust_env=False) as client:
        for kind, url in endpoints.items():
            path = READY_PATHS.get(kind)
            if path is None:
                continue
            try:
                resp = await client.get(url.rstrip("/") + path)
                out[kind] = resp.status_code == 200
            except httpx.HTTPError:
                out[kind] = False
    return out


def build_record(identity: ClusterIdentity, outcomes: Iterable[ScrapeOutcome],
                 probes: dict[str, bool], now_ms: int | None = None) -> dict:
    """The ClusterRecord dict for the current state."""
    now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    outcomes = list(outcomes)
    caps: set[str] = set()
    gpus: dict[str, str] = {}
    for o in outcomes:
        if o.up:
            caps |= o.capabilities
            gpus.update(o.gpus)
    checks = [o.up for o in outcomes] + list(probes.values())
    health = sum(checks) / len(checks) if checks else 0.0
    prometheus_up = probes.get("prometheus", False) or probes.get("thanos", False) or any(
        o.up and "prometheus" in o.capabilities for o in outcomes)
    return {
        "cluster_id": identity.cluster_id or cluster_uuid(identity.name),
        "name": identity.name,
        "type": identity.type,
        "platform": identity.platform,
        "version": identity.version,
        "region": identity.region,
        "environment": identity.environment,
        "labels": dict(identity.labels),
        "endpoints": dict(identity.endpoints),
        "capabilities": {
            "gpu_count": len(gpus),
            "gpu_models": sorted(set(gpus.values())),
            "has_ptp": "ptp" in caps,
            "has_sriov": "sriov" in caps,
            "has_dpdk": "dpdk" in caps,
            "has_prometheus": bool(prometheus_up),
            "has_loki": probes.get("loki", False),
            "has_tempo": probes.get("tempo", False),
        },
        "status": ("UNKNOWN" if not checks
                   else "ONLINE" if health >= ONLINE_THRESHOLD else "DEGRADED"),
        "health_score": round(health, 4),
        "last_seen": now,
        "record_version": now,
    }


class RegistryFeed:
    """Publishes the ClusterRecord heartbeat through the shared publisher."""

    def __init__(self, identity: ClusterIdentity, publisher: KafkaPublisher) -> None:
        self.identity = identity
        self.publisher = publisher
        self.codec = Codec("cluster_record")
        self.last: dict | None = None

    async def beat(self, outcomes: Iterable[ScrapeOutcome]) -> dict:
        """Probe endpoints, build and publish one record; returns it."""
        probes = await probe_endpoints(self.identity.endpoints)
        record = build_record(self.identity, outcomes, probes)
        self.publisher.publish(CLUSTERS_TOPIC, self.identity.name.encode(),
                               self.codec.encode(record))
        self.last = record
        return record
