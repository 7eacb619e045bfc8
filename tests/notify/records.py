"""Input records (incident, RCA report, anomaly) for the notifier tests."""

from __future__ import annotations

import time
from typing import Any

from schemas.codec import Codec
from streams.kafka.clients import make_producer


def incident(cluster: str, incident_id: str, *, status: str = "OPEN", version: int = 1,
             severity: str = "CRITICAL", namespace: str = "shop") -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {"incident_id": incident_id, "cluster": cluster, "status": status,
            "severity": severity, "title": f"checkout latency {incident_id}",
            "opened_ts": now - 60_000, "updated_ts": now,
            "resolved_ts": now if status == "RESOLVED" else None,
            "anomaly_ids": ["a1"], "alert_fingerprints": [], "entities": ["SERVICE:checkout"],
            "namespaces": [namespace], "services": ["checkout"], "nodes": ["n1"],
            "summary": "p99 latency of checkout tripled", "version": version}


def rca(cluster: str, incident_id: str, version: int = 1) -> dict[str, Any]:
    return {"report_id": f"{incident_id}:{version}", "incident_id": incident_id,
            "cluster": cluster, "created_ts": int(time.time() * 1000),
            "causes": [{"rank": 1, "entity_type": "POD", "entity": "shop/db-0", "score": 0.9,
                        "pattern": "oom", "evidence": [
                            {"kind": "SERIES", "ref": "1", "description": "memory at limit",
                             "onset_ts": None, "magnitude": 3.0}]}],
            "explanation": {"summary": "db-0 ran out of memory", "probable_cause":
                            "db-0 OOM-killed", "impact": "checkout slow",
                            "remediation": ["raise the memory limit", "restart db-0"]},
            "provider": "template", "model": None, "persona": "default", "tokens_in": 0,
            "tokens_out": 0, "latency_ms": 3.0}


def anomaly(cluster: str, anomaly_id: str, severity: str = "HIGH") -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {"anomaly_id": anomaly_id, "cluster": cluster, "entity_type": "SERIES",
            "entity": "n1/cpu", "name": "node_cpu", "labels": {"namespace": "shop",
                                                               "team": "payments"},
            "series_id": 7, "type": "SPIKE", "actual": 9.0, "expected": 1.0, "lower": 0.5,
            "upper": 1.5, "score": 8.0, "confidence": 0.9, "severity": severity,
            "detector": "ewma", "rule": None, "start_ts": now, "sample_ts": now,
            "detected_ts": now}


def publish(bootstrap: str, topic: str, schema: str, records: list[dict[str, Any]],
            key_field: str) -> None:
    """Produce ``records`` and wait for the broker's acknowledgement."""
    producer = make_producer(bootstrap, **{"linger.ms": 1})
    codec = Codec(schema)
    for rec in records:
        producer.produce(topic, key=str(rec[key_field]).encode(), value=codec.encode(rec))
    assert producer.flush(30) == 0
