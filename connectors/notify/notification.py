"""A notification: one incident event, RCA report or anomaly, ready to route and render.

The idempotency key of a delivery is derived from the notification's identity (what it
is about, which event, which version) and the endpoint, so replaying the same input after
a restart maps to the same key and is never sent twice.

>>> n = from_anomaly({"anomaly_id": "a1", "cluster": "c", "entity_type": "SERIES",
...     "entity": "e", "name": "cpu", "labels": {"namespace": "ns"}, "series_id": 1,
...     "type": "SPIKE", "actual": 9.0, "expected": 1.0, "lower": 0.0, "upper": 2.0,
...     "score": 8.0, "confidence": 0.9, "severity": "HIGH", "detector": "ewma", "rule": None,
...     "start_ts": 1, "sample_ts": 2, "detected_ts": 3})
>>> (n.subject, n.event, n.namespace, n.firing)
('anomaly:a1', 'ANOMALY', 'ns', True)
>>> len(n.idempotency_key("hook"))
32
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")


def severity_rank(severity: str) -> int:
    """Position of ``severity`` on the ladder (unknown: 0)."""
    try:
        return SEVERITIES.index(severity.upper())
    except ValueError:
        return 0


@dataclass
class Notification:
    """What is delivered: a subject (incident/anomaly), an event, and what explains it."""

    subject: str
    event: str
    version: int
    cluster: str
    severity: str
    title: str
    summary: str
    starts_ts: int
    ends_ts: int | None = None
    namespace: str = ""
    service: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    probable_cause: str = ""
    remediation: list[str] = field(default_factory=list)
    incident: dict[str, Any] | None = None
    rca: dict[str, Any] | None = None
    anomaly: dict[str, Any] | None = None
    repeat: int = 0

    @property
    def firing(self) -> bool:
        """False once the subject is resolved (RCA of a resolved incident included)."""
        return self.event != "RESOLVED" and self.ends_ts is None

    @property
    def incident_id(self) -> str:
        """The incident id ('' for anomalies)."""
        return self.subject.split(":", 1)[1] if self.subject.startswith("incident:") else ""

    def match_labels(self) -> dict[str, str]:
        """Labels that routing rules match on (labels plus the well-known fields)."""
        return {**self.labels, "cluster": self.cluster, "namespace": self.namespace,
                "service": self.service, "severity": self.severity, "event": self.event}

    def identity(self) -> str:
        """What makes this notification unique, endpoint aside."""
        return f"{self.subject}|{self.event}|{self.version}|{self.repeat}"

    def idempotency_key(self, endpoint: str) -> str:
        """Stable key of this notification for ``endpoint`` (hex, 32 chars)."""
        return hashlib.sha256(f"{endpoint}|{self.identity()}".encode()).hexdigest()[:32]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=_bytes_safe)

    @classmethod
    def from_json(cls, text: str) -> Notification:
        return cls(**json.loads(text))


def _bytes_safe(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def from_incident(incident: dict[str, Any], rca: dict[str, Any] | None = None) -> Notification:
    """A notification for an incident lifecycle record (OPEN, UPDATED or RESOLVED)."""
    explanation = (rca or {}).get("explanation") or {}
    return Notification(
        subject=f"incident:{incident['incident_id']}", event=str(incident["status"]),
        version=int(incident["version"]), cluster=incident["cluster"],
        severity=str(incident["severity"]), title=incident["title"],
        summary=incident["summary"], starts_ts=int(incident["opened_ts"]),
        ends_ts=incident.get("resolved_ts"),
        namespace=(incident.get("namespaces") or [""])[0],
        service=(incident.get("services") or [""])[0],
        labels={"incident_id": incident["incident_id"]},
        probable_cause=explanation.get("probable_cause", ""),
        remediation=list(explanation.get("remediation") or []),
        incident=dict(incident), rca=rca,
    )


def from_rca(rca: dict[str, Any], incident: dict[str, Any] | None) -> Notification:
    """A notification for an RCA report; ``incident`` (when known) gives its context."""
    if incident is not None:
        note = from_incident(incident, rca)
    else:
        note = Notification(
            subject=f"incident:{rca['incident_id']}", event="RCA", version=0,
            cluster=rca["cluster"], severity="INFO", title=f"Root cause of {rca['incident_id']}",
            summary="", starts_ts=int(rca["created_ts"]),
            labels={"incident_id": rca["incident_id"]}, rca=rca)
    explanation = rca.get("explanation") or {}
    note.event = "RCA"
    note.summary = explanation.get("summary") or note.summary
    note.probable_cause = explanation.get("probable_cause", "")
    note.remediation = list(explanation.get("remediation") or [])
    note.labels = {**note.labels, "report_id": rca["report_id"]}
    note.version = int(hashlib.sha256(rca["report_id"].encode()).hexdigest()[:12], 16)
    return note


def from_anomaly(anomaly: dict[str, Any]) -> Notification:
    """A notification for a (high-severity) anomaly."""
    labels = {str(k): str(v) for k, v in (anomaly.get("labels") or {}).items()}
    title = f"{anomaly['type']} on {anomaly['name']} ({anomaly['entity']})"
    summary = (f"{anomaly['detector']}: {anomaly['name']} = {anomaly['actual']:g}, expected "
               f"{anomaly['expected']:g} [{anomaly['lower']:g}, {anomaly['upper']:g}], "
               f"score {anomaly['score']:.2f}")
    return Notification(
        subject=f"anomaly:{anomaly['anomaly_id']}", event="ANOMALY", version=0,
        cluster=anomaly["cluster"], severity=str(anomaly["severity"]), title=title,
        summary=summary, starts_ts=int(anomaly["start_ts"]),
        namespace=labels.get("namespace", ""), service=labels.get("service", ""),
        labels={**labels, "anomaly_id": anomaly["anomaly_id"]}, anomaly=dict(anomaly),
    )
