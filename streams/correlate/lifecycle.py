"""One incident's state and lifecycle: OPEN -> UPDATED -> RESOLVED after a quiet period.

Every change bumps ``version``; the record of a version is a pure function of the state,
so replaying the same members after a crash republishes identical versions (harmless:
the incidents table keeps the highest version per id).

>>> from streams.correlate.members import Member
>>> m = Member("ANOMALY", "a1", "c1", 1000, "HIGH", "POD:shop/db-0", "cpu SPIKE",
...            {"pod": ["shop/db-0"]})
>>> inc = IncidentState.open("inc-1", m, now_ms=5000)
>>> inc.add(m, now_ms=6000)
False
>>> inc.record()["status"], inc.version
('OPEN', 1)
>>> inc.due(now_ms=6000 + 60_000, quiet_ms=60_000)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.correlate.members import Member
from streams.correlate.severity import incident_severity, rank_of

OPEN, UPDATED, RESOLVED = "OPEN", "UPDATED", "RESOLVED"


@dataclass
class IncidentState:
    """Everything the correlator keeps about one incident (JSON-friendly)."""

    incident_id: str
    cluster: str
    status: str
    opened_ts: int
    updated_ts: int
    last_activity_ms: int
    """Wall-clock time of the last member (the quiet period counts from here)."""
    version: int = 1
    resolved_ts: int | None = None
    anomaly_ids: list[str] = field(default_factory=list)
    alert_fingerprints: list[str] = field(default_factory=list)
    firing: list[str] = field(default_factory=list)
    top_severity: str = "INFO"
    """The highest severity of any member so far (all the incident's severity needs)."""
    entities: list[str] = field(default_factory=list)
    keys: dict[str, list[str]] = field(default_factory=dict)
    signals: list[str] = field(default_factory=list)
    """First signals seen as ``signal on entity`` (for the title and summary, max 5)."""
    overflow: int = 0
    """Members beyond ``max_members`` (counted, not listed)."""
    merged_into: str = ""
    max_members: int = 1000
    escalate_entities: int = 5
    _seen: set[str] = field(default_factory=set, init=False, repr=False, compare=False)
    """``anomaly_ids`` as a set, for membership tests (derived, never stored)."""
    anchor_first_ts: int | None = None
    anchor_last_ts: int | None = None
    """Event-time span of the members that could open an incident on their own (alerts and
    members at the opening severity): only within the grouping window of it do members
    join, so a trickle of weak noise cannot keep an incident growing for hours."""

    @classmethod
    def open(cls, incident_id: str, member: Member, now_ms: int, max_members: int = 1000,
             escalate_entities: int = 5) -> IncidentState:
        """A new incident with ``member`` as its first member."""
        inc = cls(incident_id, member.cluster, OPEN, member.ts, member.ts, now_ms,
                  version=0, max_members=max_members, escalate_entities=escalate_entities)
        inc.add(member, now_ms)
        inc.version, inc.status = 1, OPEN
        return inc

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IncidentState:
        inc = cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        if "member_severity" in data:  # state written before top_severity existed
            inc.top_severity = max([inc.top_severity, *data["member_severity"].values()],
                                   key=rank_of)
        return inc

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (lists and maps copied one level: their items are strings)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name.startswith("_"):
                continue
            value = getattr(self, name)
            if isinstance(value, list):
                value = list(value)
            elif isinstance(value, dict):
                value = {k: list(v) if isinstance(v, list) else v for k, v in value.items()}
            out[name] = value
        return out

    @property
    def is_open(self) -> bool:
        return self.status != RESOLVED

    def knows(self, member: Member) -> bool:
        """True when ``member`` (same id, same alert state) is already counted."""
        if member.kind == "ALERT":
            known = member.member_id in self.alert_fingerprints
            return known and (member.member_id in self.firing) == member.firing
        return self.has_anomaly(member.member_id)

    def has_anomaly(self, anomaly_id: str) -> bool:
        """True when ``anomaly_id`` is listed (ids are only ever appended, never removed)."""
        if len(self._seen) != len(self.anomaly_ids):
            self._seen.update(self.anomaly_ids[len(self._seen):])
        return anomaly_id in self._seen

    def _bump(self) -> None:
        self.version += 1
        self.status = UPDATED if self.version > 1 else OPEN

    def _admits(self, member: Member) -> bool:
        """Room for ``member``: below ``max_members``, or, up to twice that, when it names an
        entity the incident does not list yet or is HIGH/CRITICAL. The cap bounds repeats of
        noisy series; it must not hide the one rule breach or rollout that explains the rest."""
        listed = len(self.anomaly_ids) + len(self.alert_fingerprints)
        if listed < self.max_members:
            return True
        news = member.entity not in self.entities or member.severity in ("HIGH", "CRITICAL")
        return news and listed < 2 * self.max_members

    @property
    def anchor(self) -> tuple[int, int]:
        """The anchor span (the whole span for state written before anchors existed)."""
        if self.anchor_first_ts is None or self.anchor_last_ts is None:
            return self.opened_ts, self.updated_ts
        return self.anchor_first_ts, self.anchor_last_ts

    def anchor_on(self, ts: int) -> None:
        """Extend the anchor span to the event time of an opening-strength member."""
        first, last = (ts, ts) if self.anchor_first_ts is None else self.anchor
        self.anchor_first_ts, self.anchor_last_ts = min(first, ts), max(last, ts)

    def add(self, member: Member, now_ms: int, anchors: bool = True) -> bool:
        """Add ``member``; True when the incident changed (a new version). ``anchors``: the
        member is strong enough to open an incident, so it extends the anchor span."""
        self.last_activity_ms = max(self.last_activity_ms, now_ms)
        if anchors:
            self.anchor_on(member.ts)
        if self.knows(member):
            return False
        ids = self.alert_fingerprints if member.kind == "ALERT" else self.anomaly_ids
        listed = (member.member_id in ids if member.kind == "ALERT"
                  else self.has_anomaly(member.member_id))
        if not listed:
            if not self._admits(member):
                self.overflow += 1
                return False
            ids.append(member.member_id)
        if member.kind == "ALERT":
            if member.firing and member.member_id not in self.firing:
                self.firing.append(member.member_id)
            elif not member.firing and member.member_id in self.firing:
                self.firing.remove(member.member_id)
        self.top_severity = max(self.top_severity, member.severity, key=rank_of)
        if member.entity not in self.entities:
            self.entities.append(member.entity)
        for key, values in member.keys.items():
            merged = set(self.keys.get(key, ())) | set(values)
            self.keys[key] = sorted(merged)
        if len(self.signals) < 5:
            self.signals.append(f"{member.signal} on {member.entity}")
        self.opened_ts = min(self.opened_ts, member.ts)
        self.updated_ts = max(self.updated_ts, member.ts)
        self._bump()
        return True

    def absorb(self, other: IncidentState, now_ms: int) -> None:
        """Take over ``other``'s members (a member linked both); ``other`` resolves as merged."""
        for aid in other.anomaly_ids:
            if not self.has_anomaly(aid):
                self.anomaly_ids.append(aid)
        for fp in other.alert_fingerprints:
            if fp not in self.alert_fingerprints:
                self.alert_fingerprints.append(fp)
        self.firing = sorted(set(self.firing) | set(other.firing))
        self.top_severity = max(self.top_severity, other.top_severity, key=rank_of)
        self.entities += [e for e in other.entities if e not in self.entities]
        for key, values in other.keys.items():
            self.keys[key] = sorted(set(self.keys.get(key, ())) | set(values))
        self.signals = (self.signals + other.signals)[:5]
        self.overflow += other.overflow
        self.opened_ts = min(self.opened_ts, other.opened_ts)
        self.updated_ts = max(self.updated_ts, other.updated_ts)
        for ts in other.anchor:
            self.anchor_on(ts)
        self.last_activity_ms = max(self.last_activity_ms, other.last_activity_ms, now_ms)
        self._bump()
        other.merged_into = self.incident_id
        other.resolve(max(other.updated_ts, self.updated_ts))

    def due(self, now_ms: int, quiet_ms: int) -> bool:
        """True when open, no alert is firing and nothing arrived for ``quiet_ms``."""
        return self.is_open and not self.firing and now_ms - self.last_activity_ms >= quiet_ms

    def resolve(self, resolved_ts: int) -> None:
        """Move to RESOLVED (a new version)."""
        self.version += 1
        self.status = RESOLVED
        self.resolved_ts = int(resolved_ts)

    @property
    def severity(self) -> str:
        return incident_severity([self.top_severity], len(self.entities),
                                 self.escalate_entities)

    def _title(self) -> str:
        first = self.signals[0] if self.signals else "signals"
        more = len(self.anomaly_ids) + len(self.alert_fingerprints) + self.overflow - 1
        return first + (f" (+{more} related)" if more > 0 else "")

    def _summary(self) -> str:
        n_anom, n_alert = len(self.anomaly_ids), len(self.alert_fingerprints)
        parts = [f"{n_anom} anomalies and {n_alert} alerts ({len(self.firing)} firing) on "
                 f"{len(self.entities)} entities in cluster {self.cluster}."]
        for key in ("service", "node", "gpu", "ptp_domain"):
            if self.keys.get(key):
                shown = ", ".join(self.keys[key][:8])
                parts.append(f"{key}s: {shown}{' ...' if len(self.keys[key]) > 8 else ''}.")
        if self.signals:
            parts.append("First signals: " + "; ".join(self.signals[:3]) + ".")
        if self.overflow:
            parts.append(f"{self.overflow} further members not listed.")
        if self.merged_into:
            parts.append(f"Merged into incident {self.merged_into}.")
        return " ".join(parts)

    def record(self) -> dict[str, Any]:
        """This version as an ``Incident`` record."""
        return {
            "incident_id": self.incident_id, "cluster": self.cluster, "status": self.status,
            "severity": self.severity, "title": self._title(), "opened_ts": self.opened_ts,
            "updated_ts": max(self.updated_ts, self.resolved_ts or 0),
            "resolved_ts": self.resolved_ts,
            "anomaly_ids": list(self.anomaly_ids),
            "alert_fingerprints": list(self.alert_fingerprints),
            "entities": list(self.entities),
            "namespaces": list(self.keys.get("namespace", [])),
            "services": list(self.keys.get("service", [])),
            "nodes": list(self.keys.get("node", [])),
            "summary": self._summary(), "version": self.version,
        }
