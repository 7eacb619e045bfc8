"""Alerts, anomalies and incidents."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Alert(BaseModel):
    cluster: str
    fingerprint: str
    status: str
    alertname: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: int
    ends_at: int | None
    generator_url: str
    receiver: str
    received_ts: int


class Anomaly(BaseModel):
    anomaly_id: str
    cluster: str
    entity_type: str
    entity: str
    name: str
    labels: dict[str, str]
    series_id: int
    type: str
    actual: float | None
    expected: float | None
    lower: float | None
    upper: float | None
    score: float | None
    confidence: float | None
    severity: str
    detector: str
    rule: str | None
    start_ts: int
    sample_ts: int
    detected_ts: int


class Incident(BaseModel):
    incident_id: str
    cluster: str
    status: str
    severity: str
    title: str
    opened_ts: int
    updated_ts: int
    resolved_ts: int | None
    anomaly_ids: list[str]
    alert_fingerprints: list[str]
    entities: list[str]
    namespaces: list[str]
    services: list[str]
    nodes: list[str]
    summary: str
    version: int


class RcaReport(BaseModel):
    report_id: str
    incident_id: str
    cluster: str
    created_ts: int
    top_entity_type: str
    top_entity: str
    top_score: float | None
    top_pattern: str
    causes: str = Field(description="Ranked causes with evidence (JSON text)")
    summary: str
    probable_cause: str
    impact: str
    remediation: list[str]
    provider: str
    model: str | None
    persona: str


class Note(BaseModel):
    ts: int
    kind: str
    author: str
    text: str


class IncidentDetail(Incident):
    rca: RcaReport | None
    notes: list[Note]


class NoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)
