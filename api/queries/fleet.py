"""Registry filtering and fleet aggregates (in memory: the registry is materialised)."""

from __future__ import annotations

from collections import Counter
from typing import Any

CNF_FLAGS = ("has_ptp", "has_sriov", "has_dpdk")


def visible(clusters: list[dict[str, Any]], scope: frozenset[str] | None
            ) -> list[dict[str, Any]]:
    return [c for c in clusters if scope is None or c["name"] in scope]


def filter_clusters(clusters: list[dict[str, Any]], *, name: str | None = None,
                    type: str | None = None, environment: str | None = None,
                    region: str | None = None, state: str | None = None,
                    has_gpu: bool | None = None, has_cnf: bool | None = None,
                    labels: list[tuple[str, str]] = ()) -> list[dict[str, Any]]:
    """Clusters matching every given filter (``name`` is a substring match)."""
    out = []
    for c in clusters:
        caps = c["capabilities"]
        if name and name not in c["name"]:
            continue
        if type and c["type"] != type or environment and c["environment"] != environment:
            continue
        if region and c["region"] != region or state and c["state"] != state:
            continue
        if has_gpu is not None and (caps.get("gpu_count", 0) > 0) != has_gpu:
            continue
        if has_cnf is not None and any(caps.get(f) for f in CNF_FLAGS) != has_cnf:
            continue
        if any(c["labels"].get(k) != v for k, v in labels):
            continue
        out.append(c)
    return out


def summary(clusters: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by state/type/environment, GPUs, CNF clusters, average health."""
    by_state = Counter({s: 0 for s in ("ONLINE", "DEGRADED", "OFFLINE", "UNKNOWN")})
    by_state.update(c["state"] for c in clusters)
    live = [c["health_score"] for c in clusters if c["state"] not in ("OFFLINE", "UNKNOWN")]
    return {
        "clusters": len(clusters),
        "by_state": dict(by_state),
        "by_type": dict(Counter(c["type"] for c in clusters)),
        "by_environment": dict(Counter(c["environment"] for c in clusters)),
        "gpus": sum(int(c["capabilities"].get("gpu_count", 0)) for c in clusters),
        "gpu_clusters": sum(1 for c in clusters if c["capabilities"].get("gpu_count", 0) > 0),
        "cnf_clusters": sum(1 for c in clusters
                            if any(c["capabilities"].get(f) for f in CNF_FLAGS)),
        "average_health": round(sum(live) / len(live), 4) if live else None,
    }


def status_of(c: dict[str, Any], now_ms: int) -> dict[str, Any]:
    seen = int(c.get("last_seen") or 0)
    return {"name": c["name"], "state": c["state"], "reported_status": c["reported_status"],
            "health_score": c["health_score"], "last_seen": seen,
            "seconds_since_heartbeat": (now_ms - seen) / 1000 if seen else None}


def health(clusters: list[dict[str, Any]], now_ms: int) -> dict[str, Any]:
    live = [c["health_score"] for c in clusters if c["state"] not in ("OFFLINE", "UNKNOWN")]
    return {"score": round(sum(live) / len(live), 4) if live else None,
            "healthy": sum(1 for c in clusters if c["state"] == "ONLINE"),
            "unhealthy": sum(1 for c in clusters if c["state"] != "ONLINE"),
            "clusters": [status_of(c, now_ms) for c in clusters]}
