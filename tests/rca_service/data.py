"""History rows for the RCA worker tests and benchmark: anomalies, alerts, call edges."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

ANOMALY_COLUMNS = ["timestamp", "start_ts", "detected_ts", "anomaly_id", "cluster",
                   "entity_type", "entity", "name", "labels", "series_id", "type", "actual",
                   "expected", "lower", "upper", "score", "confidence", "severity",
                   "detector", "rule"]
EDGE_COLUMNS = ["timestamp", "cluster", "parent_service", "child_service", "calls", "errors",
                "duration_ns_sum"]


def dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def anomaly_row(a: dict[str, Any]) -> list[Any]:
    """An ``Anomaly`` dict as an ``anomalies`` table row."""
    return [dt(a["sample_ts"]), dt(a["start_ts"]), dt(a["detected_ts"]), a["anomaly_id"],
            a["cluster"], a["entity_type"], a["entity"], a["name"], a["labels"],
            a["series_id"], a["type"], a["actual"], a["expected"], a["lower"], a["upper"],
            a["score"], a["confidence"], a["severity"], a["detector"], a["rule"]]


def insert_anomalies(client: Any, database: str, anomalies: list[dict[str, Any]]) -> None:
    client.insert(f"`{database}`.anomalies", [anomaly_row(a) for a in anomalies],
                  column_names=ANOMALY_COLUMNS)


def insert_edges(client: Any, database: str, cluster: str, edges: list[tuple[str, str]],
                 at_ms: int) -> None:
    minute = at_ms // 60_000 * 60
    client.insert(f"`{database}`.service_edges",
                  [[minute, cluster, a, b, 600, 0, 600 * 20_000_000] for a, b in edges],
                  column_names=EDGE_COLUMNS)


def insert_alert(client: Any, database: str, alert: dict[str, Any]) -> None:
    client.insert(f"`{database}`.alerts", [[
        dt(alert["received_ts"]), dt(alert["starts_at"]), None, alert["cluster"],
        alert["fingerprint"], alert["status"], alert["alertname"], alert["severity"],
        alert["labels"], alert["annotations"], alert["generator_url"], alert["receiver"],
        alert["group_key"]]],
        column_names=["timestamp", "starts_at", "ends_at", "cluster", "fingerprint", "status",
                      "alertname", "severity", "labels", "annotations", "generator_url",
                      "receiver", "group_key"])


def incident(cluster: str, iid: str, version: int, anomalies: list[dict[str, Any]],
             alerts: tuple[str, ...] = (), status: str = "OPEN") -> dict[str, Any]:
    """An ``Incident`` record over ``anomalies``."""
    services = sorted({a["entity"] for a in anomalies if a["entity_type"] == "SERVICE"}
                      | {f"{a['labels']['namespace']}/{a['labels']['service']}"
                         for a in anomalies if a["labels"].get("service")})
    return {
        "incident_id": iid, "cluster": cluster, "status": status, "severity": "HIGH",
        "title": "test", "opened_ts": min(a["start_ts"] for a in anomalies),
        "updated_ts": max(a["start_ts"] for a in anomalies), "resolved_ts": None,
        "anomaly_ids": [a["anomaly_id"] for a in anomalies],
        "alert_fingerprints": list(alerts), "entities": [], "services": services,
        "namespaces": sorted({a["labels"].get("namespace", "") for a in anomalies} - {""}),
        "nodes": sorted({a["labels"].get("node", "") for a in anomalies} - {""}),
        "summary": "test", "version": version,
    }


def insert_span(client: Any, database: str, cluster: str, trace_id: str, service: str,
                namespace: str, pod: str, at_ms: int, duration_ms: float, error: bool,
                node: str = "", kind: str = "SERVER") -> None:
    resources = {"k8s.pod.name": pod} | ({"k8s.node.name": node} if node else {})
    client.insert(f"`{database}`.spans", [[
        dt(at_ms), cluster, trace_id, f"{trace_id}-1", "", service, "GET /", kind,
        int(duration_ms * 1e6), "ERROR" if error else "OK", "", namespace, {},
        resources, "test"]],
        column_names=["timestamp", "cluster", "trace_id", "span_id", "parent_span_id",
                      "service", "operation", "kind", "duration_ns", "status_code",
                      "status_message", "namespace", "attributes", "resources", "source"])
