"""One cluster's incidents: members in, incident versions out (no Faust, no I/O).

The Faust app keeps one :class:`ClusterIncidents` per cluster in a table and publishes
what :meth:`ClusterIncidents.handle` and :meth:`ClusterIncidents.tick` return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.correlate.callgraph import CallGraph
from streams.correlate.grouping import GroupingConfig, incident_id, matching
from streams.correlate.lifecycle import IncidentState
from streams.correlate.members import Member


@dataclass(frozen=True)
class LifecycleConfig:
    """Quiet period, retention and caps (settings ``correlate_*``)."""

    quiet_ms: int = 600_000
    retain_resolved_ms: int = 3_600_000
    max_members: int = 1000
    escalate_entities: int = 5


class ClusterIncidents:
    """Open and recently resolved incidents of one cluster."""

    def __init__(self, incidents: Mapping[str, IncidentState] | None = None) -> None:
        self.incidents: dict[str, IncidentState] = dict(incidents or {})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ClusterIncidents:
        items = (data or {}).get("incidents", {})
        return cls({k: IncidentState.from_dict(v) for k, v in items.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"incidents": {k: v.to_dict() for k, v in sorted(self.incidents.items())}}

    def open_incidents(self) -> list[IncidentState]:
        return [i for i in self.incidents.values() if i.is_open]

    def _owner(self, member: Member) -> IncidentState | None:
        """The incident that already counts this member (a replay or a repeat)."""
        for inc in self.incidents.values():
            if inc.is_open:
                if inc.knows(member):
                    return inc
            elif self._replayed(inc, member):
                return inc
        return None

    @staticmethod
    def _replayed(resolved: IncidentState, member: Member) -> bool:
        """A member of a resolved incident seen again (a replay, or an alert repeat)."""
        if member.kind == "ANOMALY":
            return member.member_id in resolved.anomaly_ids
        return member.member_id in resolved.alert_fingerprints and (
            not member.firing or member.ts <= resolved.updated_ts)

    def handle(self, member: Member, now_ms: int, grouping: GroupingConfig,
               lifecycle: LifecycleConfig, graph: CallGraph | None = None
               ) -> list[dict[str, Any]]:
        """Add a member; the incident records (new versions) to publish."""
        owner = self._owner(member)
        if owner is not None:
            if owner.is_open:
                owner.last_activity_ms = max(owner.last_activity_ms, now_ms)
            return []
        known_alert = next((i for i in self.open_incidents()
                            if member.member_id in i.alert_fingerprints), None)
        found = [known_alert] if known_alert else matching(
            self.open_incidents(), member, grouping, graph)
        if not found:
            if member.kind == "ALERT" and not member.firing:
                return []  # a resolved alert whose incident is gone: nothing to do
            inc = IncidentState.open(incident_id(member), member, now_ms,
                                     lifecycle.max_members, lifecycle.escalate_entities)
            if inc.incident_id in self.incidents:  # reopened by the same first member
                return []
            self.incidents[inc.incident_id] = inc
            return [inc.record()]
        target, others = found[0], found[1:]
        out = []
        changed = target.add(member, now_ms)
        for other in others:
            target.absorb(other, now_ms)
            out.append(other.record())
            changed = True
        if changed:
            out.insert(0, target.record())
        return out

    def tick(self, now_ms: int, lifecycle: LifecycleConfig) -> list[dict[str, Any]]:
        """Resolve quiet incidents, forget long-resolved ones; records to publish."""
        out = []
        for inc in sorted(self.incidents.values(), key=lambda i: i.incident_id):
            if inc.due(now_ms, lifecycle.quiet_ms):
                inc.resolve(now_ms)
                out.append(inc.record())
        self.incidents = {
            k: v for k, v in self.incidents.items()
            if v.is_open or now_ms - (v.resolved_ts or now_ms) < lifecycle.retain_resolved_ms
        }
        return out

    def due(self, now_ms: int, lifecycle: LifecycleConfig) -> bool:
        """True when :meth:`tick` would change something."""
        return any(i.due(now_ms, lifecycle.quiet_ms) or (
            not i.is_open and now_ms - (i.resolved_ts or now_ms) >= lifecycle.retain_resolved_ms)
            for i in self.incidents.values())
