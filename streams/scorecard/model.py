"""What the scorecard compares: ground-truth faults, incidents, RCA reports, and its result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fault:
    """One injected fault (a FaultRecord); times are epoch ms of simulated time."""

    fault_id: str
    kind: str
    cluster: str
    start_ts: int
    end_ts: int
    root_cause_type: str
    root_cause: str
    affected: tuple[str, ...] = ()

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Fault:
        return cls(str(r["fault_id"]), str(r["kind"]), str(r["cluster"]), int(r["start_ts"]),
                   int(r["end_ts"]), str(r["root_cause_type"]), str(r["root_cause"]),
                   tuple(r.get("affected") or ()))


@dataclass(frozen=True)
class Incident:
    """The latest version of one incident."""

    incident_id: str
    cluster: str
    opened_ts: int
    title: str = ""
    entities: tuple[str, ...] = ()
    resolved_ts: int | None = None
    member_ts: tuple[int, ...] = ()  # event times of its member anomalies
    alert_ts: tuple[int, ...] = ()  # start times of its member alerts
    member_entities: tuple[tuple[int, str], ...] = ()  # (event time, "TYPE:entity") of each


@dataclass(frozen=True)
class Cause:
    """One ranked cause of an RCA report."""

    rank: int
    entity_type: str
    entity: str


@dataclass(frozen=True)
class Report:
    """The latest RCA report of one incident (causes best first)."""

    incident_id: str
    created_ts: int
    causes: tuple[Cause, ...]
    probable_cause: str = ""


@dataclass
class FaultScore:
    """The verdict for one fault."""

    fault_id: str
    kind: str
    cluster: str
    root_cause: str
    start_ts: int
    end_ts: int
    detected: bool = False
    incident_ids: list[str] = field(default_factory=list)
    time_to_detect_s: float | None = None
    cause_rank: int | None = None  # rank of the true root cause among the reported causes
    top_cause: str | None = None
    anomalies: int = 0  # anomalies on its cluster within its window (diagnostic)
    # Detected through anomalies (not only through the fleet's own alert) and when.
    detected_by_anomaly: bool = False
    anomaly_time_to_detect_s: float | None = None

    @property
    def top1(self) -> bool:
        return self.cause_rank == 1

    @property
    def top3(self) -> bool:
        return self.cause_rank is not None and self.cause_rank <= 3


@dataclass
class Pipeline:
    """Pipeline figures of the run (None where unknown)."""

    samples_produced: int | None = None
    rows_stored: int | None = None
    rows_lost: int | None = None
    dead_letters: int | None = None
    samples_per_s: float | None = None
    lag_p99_s: float | None = None
    wall_s: float | None = None
    lag_p99_s_by_component: dict[str, float] = field(default_factory=dict)
    """p99 consumer lag (seconds) of each pipeline component: which one holds the run up."""


@dataclass
class Scorecard:
    """Every fault's verdict, the false incidents and the pipeline figures."""

    faults: list[FaultScore]
    false_incidents: list[str]
    fault_free_hours: float
    pipeline: Pipeline = field(default_factory=Pipeline)
    incidents: int = 0
    anomalies: int = 0

    def _ratio(self, pred: Any) -> float | None:
        if not self.faults:
            return None
        return round(sum(1 for f in self.faults if pred(f)) / len(self.faults), 4)

    @property
    def detected_ratio(self) -> float | None:
        return self._ratio(lambda f: f.detected)

    @property
    def detected_by_anomaly_ratio(self) -> float | None:
        return self._ratio(lambda f: f.detected_by_anomaly)

    @property
    def top1_ratio(self) -> float | None:
        return self._ratio(lambda f: f.top1)

    @property
    def top3_ratio(self) -> float | None:
        return self._ratio(lambda f: f.top3)

    @property
    def false_incidents_per_hour(self) -> float | None:
        if self.fault_free_hours <= 0:
            return None
        return round(len(self.false_incidents) / self.fault_free_hours, 4)

    def kinds(self) -> dict[str, dict[str, int]]:
        """Per fault kind: how many injected, detected, top-1 and top-3 right."""
        out: dict[str, dict[str, int]] = {}
        for f in self.faults:
            row = out.setdefault(f.kind, {"faults": 0, "detected": 0, "detected_by_anomaly": 0,
                                          "top1": 0, "top3": 0})
            row["faults"] += 1
            row["detected"] += f.detected
            row["detected_by_anomaly"] += f.detected_by_anomaly
            row["top1"] += f.top1
            row["top3"] += f.top3
        return out

    def to_json(self) -> dict[str, Any]:
        """The scorecard as one JSON-ready dict (headline figures first)."""
        ttd = [f.time_to_detect_s for f in self.faults if f.time_to_detect_s is not None]
        attd = [f.anomaly_time_to_detect_s for f in self.faults
                if f.anomaly_time_to_detect_s is not None]
        return {
            "faults": len(self.faults),
            "incidents": self.incidents,
            "anomalies": self.anomalies,
            "detected_ratio": self.detected_ratio,
            "detected_by_anomaly_ratio": self.detected_by_anomaly_ratio,
            "top1_ratio": self.top1_ratio,
            "top3_ratio": self.top3_ratio,
            "false_incidents": len(self.false_incidents),
            "fault_free_hours": round(self.fault_free_hours, 4),
            "false_incidents_per_hour": self.false_incidents_per_hour,
            "mean_time_to_detect_s": round(sum(ttd) / len(ttd), 1) if ttd else None,
            "mean_anomaly_time_to_detect_s": round(sum(attd) / len(attd), 1) if attd else None,
            **asdict(self.pipeline),
            "by_kind": self.kinds(),
            "per_fault": [{**asdict(f), "top1": f.top1, "top3": f.top3} for f in self.faults],
            "false_incident_ids": self.false_incidents,
        }
