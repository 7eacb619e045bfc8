"""Realistic history for the API tests: three clusters, each with its own signals.

``alpha`` and ``bravo`` carry every signal; ``charlie`` only metrics. Values are
chosen so aggregates are exact: cluster k's series ``instance=n1`` reads
``base[k]`` and ``instance=n2`` reads ``base[k] + 10`` for the last two hours.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from clickhouse_connect.driver.client import Client

from connectors.notify.notification import Notification
from schemas.series import series_id

CLUSTERS = ("alpha", "bravo", "charlie")
BASE = {"alpha": 1.0, "bravo": 2.0, "charlie": 3.0}
METRIC = "node_load1"
NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(hours=2)


def _insert(client: Client, table: str, rows: list[dict]) -> None:
    cols = list(rows[0])
    client.insert(table, [[r[c] for c in cols] for r in rows], column_names=cols)


def metric_rows() -> list[dict]:
    rows = []
    for cluster in CLUSTERS:
        for inst, extra in (("n1", 0.0), ("n2", 10.0)):
            labels = {"instance": inst, "job": "node", "namespace": "infra"}
            sid = series_id(cluster, METRIC, labels)
            for i in range(0, 7200, 15):
                rows.append({"cluster": cluster, "name": METRIC, "series_id": sid,
                             "timestamp": START + timedelta(seconds=i),
                             "value": BASE[cluster] + extra, "labels": labels, "type": "GAUGE"})
    # PTP for alpha and bravo; SR-IOV counter for alpha
    for cluster in ("alpha", "bravo"):
        for name, value in (("openshift_ptp_offset_ns", 12.0), ("openshift_ptp_clock_state", 1.0),
                            ("openshift_ptp_clock_class", 6.0)):
            labels = {"node": f"{cluster}-w1", "iface": "ens1f0", "process": "ptp4l"}
            rows.append({"cluster": cluster, "name": name,
                         "series_id": series_id(cluster, name, labels),
                         "timestamp": NOW - timedelta(minutes=5), "value": value,
                         "labels": labels, "type": "GAUGE"})
        labels = {"node": f"{cluster}-w1", "pf": "ens2f0", "vf": "0"}
        rows.append({"cluster": cluster, "name": "sriov_vf_rx_bytes",
                     "series_id": series_id(cluster, "sriov_vf_rx_bytes", labels),
                     "timestamp": NOW - timedelta(minutes=5), "value": 1234.0,
                     "labels": labels, "type": "COUNTER"})
    return rows


def load(client: Client) -> dict[str, dict[str, str]]:
    """Insert everything; returns per-cluster ids (incident, anomaly, trace, gpu uuid)."""
    samples = metric_rows()
    index = {(r["cluster"], r["name"], r["series_id"]): r for r in samples}
    _insert(client, "series", [{"cluster": c, "name": n, "series_id": sid,
                                "labels": r["labels"], "type": r["type"], "seen": NOW}
                               for (c, n, sid), r in index.items()])
    for r in samples:
        del r["labels"]
    _insert(client, "metrics", samples)
    ids: dict[str, dict[str, str]] = {}
    gpu, logs, spans, edges, alerts, anomalies, incidents, rca = ([] for _ in range(8))
    for n, cluster in enumerate(("alpha", "bravo")):
        ts = NOW - timedelta(minutes=10)
        ids[cluster] = {"incident": f"inc-{cluster}", "anomaly": f"anom-{cluster}",
                        "trace": f"{n:02d}" * 16, "gpu": f"GPU-{cluster}-0",
                        "fingerprint": f"fp-{cluster}"}
        for i in range(5):
            gpu.append({"timestamp": ts + timedelta(seconds=30 * i), "cluster": cluster,
                        "node": f"{cluster}-gpu1", "gpu": 0, "uuid": f"GPU-{cluster}-0",
                        "model": "NVIDIA H100 80GB HBM3", "pci_bus_id": "00000000:3B:00.0",
                        "mig_profile": "", "mig_instance_id": "", "pod": f"train-{cluster}",
                        "namespace": "ml", "container": "trainer", "source": "dcgm",
                        "gpu_util": 50.0 + i, "gpu_temp_c": 60.0, "power_w": 300.0,
                        "xid_last": 0.0, "extra": {}})
        for i in range(20):
            logs.append({"timestamp": ts + timedelta(seconds=i), "cluster": cluster,
                         "namespace": "shop", "pod": "cart-1", "container": "cart",
                         "app": "cart", "level": "ERROR" if i % 5 == 0 else "INFO",
                         "body": f"{cluster} request {i} failed: timeout" if i % 5 == 0
                         else f"{cluster} request {i} ok", "template_id":
                         "t-fail" if i % 5 == 0 else "t-ok", "trace_id": "", "span_id": "",
                         "labels": {"app": "cart"}, "metadata": {}, "source": "loki"})
        trace = ids[cluster]["trace"]
        for j, (svc, parent) in enumerate((("frontend", ""), ("cart", "s0"), ("db", "s1"))):
            spans.append({"timestamp": ts + timedelta(milliseconds=j), "cluster": cluster,
                          "trace_id": trace, "span_id": f"s{j}", "parent_span_id": parent,
                          "service": svc, "operation": f"GET /{svc}", "kind": "SERVER",
                          "duration_ns": (3 - j) * 1_000_000, "status_code":
                          "ERROR" if svc == "db" else "OK", "status_message": "",
                          "namespace": "shop", "attributes": {"http.method": "GET"},
                          "resources": {"service.name": svc}, "source": "otlp"})
        edges.append({"timestamp": ts.replace(second=0), "cluster": cluster,
                      "parent_service": "frontend", "child_service": "cart", "calls": 10,
                      "errors": 1, "duration_ns_sum": 10_000_000})
        alerts.append({"timestamp": ts, "starts_at": ts, "ends_at": None, "cluster": cluster,
                       "fingerprint": f"fp-{cluster}", "status": "FIRING",
                       "alertname": "KubePodCrashLooping", "severity": "critical",
                       "labels": {"namespace": "shop"}, "annotations": {"summary": "crash"},
                       "generator_url": "http://prom/graph", "receiver": "aiops",
                       "group_key": "{}"})
        anomalies.append({"timestamp": ts, "start_ts": ts, "detected_ts": ts,
                          "anomaly_id": f"anom-{cluster}", "cluster": cluster,
                          "entity_type": "SERIES", "entity": "n1", "name": METRIC,
                          "labels": {"namespace": "infra"}, "series_id": 1, "type": "SPIKE",
                          "actual": 9.0, "expected": 1.0, "lower": 0.5, "upper": 1.5,
                          "score": 7.5, "confidence": 0.9, "severity": "HIGH",
                          "detector": "ewma", "rule": None})
        incidents.append({"timestamp": ts, "opened_ts": ts, "resolved_ts": None,
                          "incident_id": f"inc-{cluster}", "cluster": cluster, "status": "OPEN",
                          "severity": "HIGH", "title": f"{cluster} cart errors",
                          "anomaly_ids": [f"anom-{cluster}"],
                          "alert_fingerprints": [f"fp-{cluster}"], "entities": ["SERVICE:cart"],
                          "namespaces": ["shop"], "services": ["cart"], "nodes": [],
                          "summary": "cart errors", "version": 1})
        rca.append({"timestamp": ts, "report_id": f"rca-{cluster}",
                    "incident_id": f"inc-{cluster}", "cluster": cluster,
                    "top_entity_type": "SERVICE", "top_entity": "db", "top_score": 0.9,
                    "top_pattern": "error_propagation", "causes": json.dumps([{"entity": "db"}]),
                    "summary": "db errors", "probable_cause": "db", "impact": "cart",
                    "remediation": ["restart db"], "provider": "template", "model": None,
                    "persona": "sre", "tokens_in": 0, "tokens_out": 0, "latency_ms": 1.0})
    deliveries, attempts = notification_rows()
    for table, rows in (("gpu", gpu), ("logs", logs), ("spans", spans),
                        ("service_edges", edges), ("alerts", alerts), ("anomalies", anomalies),
                        ("incidents", incidents), ("rca_reports", rca),
                        ("notification_deliveries", deliveries),
                        ("notification_attempts", attempts)):
        _insert(client, table, rows)
    return ids


def notification_rows() -> tuple[list[dict], list[dict]]:
    """The notifier's log for alpha's and bravo's incidents: one failed try, then delivered."""
    deliveries, attempts = [], []
    ts = NOW - timedelta(minutes=9)
    for cluster in ("alpha", "bravo"):
        key = f"key-{cluster}"
        common = {"idempotency_key": key, "endpoint": f"hook-{cluster}",
                  "endpoint_type": "webhook", "route": f"route-{cluster}",
                  "subject": f"incident:inc-{cluster}", "event": "OPEN", "cluster": cluster}
        deliveries.append({**common, "group_key": f"cluster={cluster}", "severity": "HIGH",
                           "state": "DELIVERED", "attempts": 2, "created_ts": ts,
                           "updated_ts": ts + timedelta(seconds=2), "next_attempt_ts": ts,
                           "delivered_ts": ts + timedelta(seconds=2), "last_error": "",
                           "notification": Notification(
                               f"incident:inc-{cluster}", "OPEN", 1, cluster, "HIGH",
                               f"{cluster} cart errors", "cart errors",
                               int(ts.timestamp() * 1000)).to_json(), "version": 1})
        for n, (status, code) in enumerate((("HTTP_ERROR", 500), ("OK", 200)), start=1):
            attempts.append({**common, "timestamp": ts + timedelta(seconds=n), "kind": "deliver",
                             "attempt": n, "status": status, "http_status": code,
                             "latency_ms": 3.0, "error": "" if code == 200 else
                             f"HTTP 500: {cluster} receiver down", "worker": "notify"})
    return deliveries, attempts


def cluster_record(name: str, *, last_seen_ms: int, health: float = 1.0,
                   status: str = "ONLINE", gpus: int = 0, ptp: bool = False,
                   environment: str = "production") -> dict:
    return {"cluster_id": f"id-{name}", "name": name, "type": "SPOKE", "platform": "OPENSHIFT",
            "version": "4.16.3", "region": "eu-west", "environment": environment,
            "labels": {"team": name}, "endpoints": {},
            "capabilities": {"gpu_count": gpus, "gpu_models": ["H100"] if gpus else [],
                             "has_ptp": ptp, "has_sriov": ptp, "has_dpdk": False,
                             "has_prometheus": True, "has_loki": True, "has_tempo": True},
            "status": status, "health_score": health, "last_seen": last_seen_ms,
            "record_version": last_seen_ms}
