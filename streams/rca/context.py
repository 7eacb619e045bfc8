"""The plain-data input of the ranking: one incident's anomalies, topology, logs and traces.

Everything here is plain data so that any producer can fill it: the future ``aiops rca``
worker from ClickHouse/Kafka, the Nezha evaluation harness from CSV files, or a test by
hand.  Anomalies are ``Anomaly`` dicts exactly as in ``schemas/avro/anomaly.avsc``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ANOMALY_KEYS = ("anomaly_id", "entity_type", "entity", "name", "labels", "score", "start_ts")


@dataclass(frozen=True)
class DependencyEdge:
    """A caller -> callee service edge with its RED figures over the incident window."""

    caller: str
    callee: str
    call_rate: float = 0.0
    error_ratio: float = 0.0
    latency_p90_ms: float = 0.0


@dataclass(frozen=True)
class LogEvent:
    """A log template seen on an entity in the incident window (from Drain3 mining)."""

    entity_type: str
    entity: str
    template_id: str
    template: str
    count: int
    baseline_count: int = 0
    first_ts: int = 0
    is_error: bool = False
    service: str = ""

    @property
    def novel(self) -> bool:
        """A template never seen in the baseline window."""
        return self.baseline_count == 0


@dataclass(frozen=True)
class TraceEvidence:
    """An exemplar span that supports a cause (slow or failed), by trace id."""

    trace_id: str
    service: str
    operation: str
    duration_ms: float
    ts: int
    error: bool = False
    pod: str = ""


@dataclass
class IncidentContext:
    """All an RCA run may look at for one incident; times are epoch milliseconds."""

    incident_id: str
    cluster: str
    anomalies: list[dict[str, Any]]
    edges: list[DependencyEdge] = field(default_factory=list)
    log_events: list[LogEvent] = field(default_factory=list)
    traces: list[TraceEvidence] = field(default_factory=list)
    window_start_ts: int = 0
    window_end_ts: int = 0
    pods: dict[str, list[str]] = field(default_factory=dict)
    """Inventory: service -> its pods (``namespace/pod`` or ``pod``), so a pod with no
    anomaly of its own can still be ranked through its service's evidence."""
    node_services: dict[str, list[str]] = field(default_factory=dict)
    """Placement: node -> the services (``namespace/service``) serving requests from pods
    on it, so a node's network signal can be told apart from one service's."""

    def __post_init__(self) -> None:
        for i, a in enumerate(self.anomalies):
            missing = [k for k in ANOMALY_KEYS if k not in a]
            if missing:
                raise ValueError(f"anomaly #{i} lacks {', '.join(missing)}")
