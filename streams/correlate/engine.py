"""One cluster's incidents: members in, incident versions out (no Faust, no I/O).

The Faust app keeps one :class:`ClusterIncidents` per cluster in a table and publishes
what :meth:`ClusterIncidents.handle` and :meth:`ClusterIncidents.tick` return.

Minimum evidence: a firing alert or a rule breach opens an incident alone; a model anomaly
opens one only when it and the pending members it links to show ``open_signals`` distinct
signals at ``open_severity``. A member that joins no incident waits in ``pending`` (``window_ms`` of
event time, at most ``MAX_PENDING``) to corroborate others, or to be pulled into an
incident that opens or grows within the window and links to it. Only strong members merge
incidents and extend an incident's anchor span. One noisy series never pages anyone, and
the early, weak signs of a real fault still reach its incident and its root-cause
analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.correlate.callgraph import CallGraph
from streams.correlate.grouping import GroupingConfig, incident_id, matching
from streams.correlate.lifecycle import OPEN, UPDATED, IncidentState
from streams.correlate.members import Member
from streams.correlate.pending import PendingPool


@dataclass(frozen=True)
class LifecycleConfig:
    """Quiet period, retention and caps (settings ``correlate_*``)."""

    quiet_ms: int = 600_000
    retain_resolved_ms: int = 3_600_000
    max_members: int = 1000
    escalate_entities: int = 5


#: Weak members waiting for an incident, per cluster (the oldest are dropped beyond it).
MAX_PENDING = 2000


class ClusterIncidents:
    """Open and recently resolved incidents of one cluster, and weak members pending."""

    def __init__(self, incidents: Mapping[str, IncidentState] | None = None) -> None:
        self.incidents: dict[str, IncidentState] = dict(incidents or {})
        self.pending = PendingPool()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ClusterIncidents:
        items = (data or {}).get("incidents", {})
        return cls({k: IncidentState.from_dict(v) for k, v in items.items()})

    def to_dict(self) -> dict[str, Any]:
        """The incidents as JSON-ready data. Pending members are not included: they are a
        best-effort buffer of the live state (writing hundreds of them with every incident
        change made the state's changelog the correlator's bottleneck); a restarted worker
        starts with none, which only narrows the context of incidents opened just then."""
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
            return resolved.has_anomaly(member.member_id)
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
        strong = grouping.strong(member)
        known_alert = next((i for i in self.open_incidents()
                            if member.member_id in i.alert_fingerprints), None)
        found = [known_alert] if known_alert else matching(
            self.open_incidents(), member, grouping, graph)
        if found:
            return self._join(found, member, strong, now_ms, grouping, graph)
        if member.kind == "ALERT" and not member.firing:
            return []  # a resolved alert whose incident is gone: nothing to do
        group = [member]
        if not grouping.opens_alone(member):
            self._wait(member, strong, grouping.window_ms)
            if len(self.pending.strong_signals) < grouping.open_signals:
                return []  # not enough strong evidence pending anywhere in the cluster
            group = self._group(member, grouping, graph)
            if not grouping.corroborated(group):
                return []
        opener = min((m for m in group if grouping.strong(m)), key=lambda m: (m.ts, m.member_id))
        inc = IncidentState.open(incident_id(opener), opener, now_ms, lifecycle.max_members,
                                 lifecycle.escalate_entities)
        if inc.incident_id in self.incidents:  # reopened by the same first member
            return []
        self.incidents[inc.incident_id] = inc
        self.pending.remove(m.member_id for m in group)
        for m in sorted(group, key=lambda x: (x.ts, x.member_id)):
            if m is not opener:
                inc.add(m, now_ms, anchors=grouping.strong(m))
        self._pull(inc, now_ms, grouping, graph)
        inc.version, inc.status = 1, OPEN  # one version, however many members it starts with
        return [inc.record()]

    def _join(self, found: list[IncidentState], member: Member, strong: bool, now_ms: int,
              grouping: GroupingConfig, graph: CallGraph | None) -> list[dict[str, Any]]:
        """``member`` joins the oldest incident it links to; a strong member also merges the
        others into it and pulls in the pending members that now link."""
        target, others = found[0], (found[1:] if strong else [])
        out = []
        version = target.version
        changed = target.add(member, now_ms, anchors=strong)
        for other in others:
            target.absorb(other, now_ms)
            out.append(other.record())
            changed = True
        if strong:
            changed = self._pull(target, now_ms, grouping, graph) or changed
        if changed:
            target.version, target.status = version + 1, UPDATED
            out.insert(0, target.record())
        return out

    def _wait(self, member: Member, strong: bool, window_ms: int) -> None:
        """Keep a member for an incident to come; forget those two windows older than the
        newest (members of different sources arrive a little out of order)."""
        self.pending.add(member, strong)
        self.pending.prune(self.pending.newest_ts - 2 * window_ms, MAX_PENDING)

    def _group(self, member: Member, grouping: GroupingConfig,
               graph: CallGraph | None) -> list[Member]:
        """``member`` and the pending members it links to directly (sharing a grouping key
        or a call-graph edge, within the window): what may corroborate it."""
        w = grouping.window_ms
        near = self.pending.near(member.keys, grouping.keys, member.ts - w, member.ts + w,
                                 graph if grouping.call_graph else None, member.cluster)
        return [member] + [m for m in near if m.member_id != member.member_id]

    def _pull(self, inc: IncidentState, now_ms: int, grouping: GroupingConfig,
              graph: CallGraph | None) -> bool:
        """Move the pending members that link to ``inc`` (directly or through one another)
        into it, oldest first; True when any moved."""
        moved = False
        w = grouping.window_ms
        near_graph = graph if grouping.call_graph else None
        while True:
            first, last = inc.anchor
            near = self.pending.near(inc.keys, grouping.keys, first - w, last + w, near_graph,
                                     inc.cluster, keyless=True)
            batch = [m for m in near if matching([inc], m, grouping, graph)]
            if not batch:
                return moved
            self.pending.remove(m.member_id for m in batch)
            for m in sorted(batch, key=lambda x: (x.ts, x.member_id)):
                moved = inc.add(m, now_ms, anchors=grouping.strong(m)) or moved

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
