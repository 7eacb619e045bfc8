"""Which open incident a member joins: same cluster, within the time window of the incident's
anchor span, sharing a topology key (node, namespace, service, pod, GPU, PTP domain) or a
call-graph edge; and which members are strong enough to open one.

>>> from streams.correlate.members import Member
>>> cfg = GroupingConfig(window_ms=60_000, keys=("node", "service"))
>>> m = Member("ANOMALY", "a1", "c1", 1000, "HIGH", "POD:shop/db-0", "cpu SPIKE",
...            {"node": ["n1"], "pod": ["shop/db-0"]})
>>> incident_id(m) == incident_id(m)
True
>>> group_key(m)
'pod=shop/db-0'
>>> cfg.strong(m), cfg.opens_alone(m), GroupingConfig(open_severity="CRITICAL").strong(m)
(True, False, False)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from streams.correlate.callgraph import CallGraph
from streams.correlate.lifecycle import IncidentState
from streams.correlate.members import GROUP_KEYS, Member
from streams.correlate.pending import signal_name
from streams.correlate.severity import LADDER, rank_of

#: Most specific first: the grouping key an incident id is derived from.
_SPECIFICITY = ("gpu", "pod", "ptp_domain", "service", "node", "namespace")


#: Linking keys by default: ``namespace`` is left out, as one namespace often hosts a whole
#: application whose unrelated noise it would chain into one incident (the call graph links
#: the services that really depend on each other).
DEFAULT_KEYS = tuple(k for k in GROUP_KEYS if k != "namespace")


@dataclass(frozen=True)
class GroupingConfig:
    """Grouping parameters (settings ``correlate_window_s`` and ``correlate_group_keys``)."""

    window_ms: int = 300_000
    keys: tuple[str, ...] = DEFAULT_KEYS
    call_graph: bool = True
    open_severity: str = "HIGH"
    """Lowest severity of a model anomaly that can open an incident (and extends an
    incident's anchor span); weaker members only join or corroborate."""
    open_signals: int = 2
    """Distinct signals (metric names) at ``open_severity`` a group of linked model
    anomalies needs to open an incident: one metric misbehaving alone, however loudly, is
    not an incident. Firing alerts and rule breaches (``certain``) open alone; 1 lets any
    member at ``open_severity`` open one."""

    def __post_init__(self) -> None:
        if self.open_severity not in LADDER:
            raise ValueError(f"unknown severity {self.open_severity!r}; known: "
                             f"{', '.join(LADDER)}")

    def strong(self, member: Member) -> bool:
        """True when ``member`` may open an incident and extends an incident's anchor."""
        if member.kind == "ALERT":
            return member.firing
        return member.certain or rank_of(member.severity) >= rank_of(self.open_severity)

    def opens_alone(self, member: Member) -> bool:
        """A firing alert or a rule breach, or any strong member when one signal is enough."""
        return self.strong(member) and (member.certain or member.kind == "ALERT"
                                        or self.open_signals <= 1)

    def corroborated(self, group: Iterable[Member]) -> bool:
        """True when linked members are evidence enough for an incident."""
        names = {signal_name(m) for m in group if self.strong(m)}
        return bool(names) and len(names) >= self.open_signals

    @classmethod
    def parse_keys(cls, text: str) -> tuple[str, ...]:
        """``"node,service"`` -> ``("node", "service")``; unknown names are an error."""
        keys = tuple(k.strip() for k in text.split(",") if k.strip())
        unknown = [k for k in keys if k not in GROUP_KEYS]
        if unknown:
            raise ValueError(f"unknown grouping keys {unknown}; known: {', '.join(GROUP_KEYS)}")
        return keys


def group_key(member: Member) -> str:
    """The member's most specific topology key, ``key=value`` (``cluster=name`` if none)."""
    for key in _SPECIFICITY:
        if member.keys.get(key):
            return f"{key}={member.keys[key][0]}"
    return f"cluster={member.cluster}"


def incident_id(member: Member) -> str:
    """Stable id of the incident ``member`` opens: hash of its cluster, first member (id and
    event time) and group key."""
    raw = (f"{member.cluster}\x1f{member.kind}\x1f{member.member_id}\x1f{member.ts}"
           f"\x1f{group_key(member)}")
    return "inc-" + hashlib.blake2b(raw.encode(), digest_size=10).hexdigest()


def in_window(incident: IncidentState, member: Member, window_ms: int) -> bool:
    """True when the member's event time is within ``window_ms`` of the incident's anchor
    span (its opening-strength members)."""
    first, last = incident.anchor
    return first - window_ms <= member.ts <= last + window_ms


def linked(incident: IncidentState, member: Member, config: GroupingConfig,
           graph: CallGraph | None = None) -> bool:
    """True when the member shares a grouping key or a call-graph edge with the incident."""
    for key in config.keys:
        if set(member.keys.get(key, ())) & set(incident.keys.get(key, ())):
            return True
    if config.call_graph and graph is not None:
        ours, theirs = member.keys.get("service", ()), incident.keys.get("service", ())
        if ours and theirs and graph.adjacent(member.cluster, ours, theirs):
            return True
    return False


def matching(incidents: Iterable[IncidentState], member: Member, config: GroupingConfig,
             graph: CallGraph | None = None) -> list[IncidentState]:
    """Open incidents of the member's cluster it belongs to, oldest first.

    A member with no topology key at all (a cluster-wide signal) joins the most recently
    updated open incident in the window.
    """
    candidates = [i for i in incidents if i.is_open and i.cluster == member.cluster
                  and in_window(i, member, config.window_ms)]
    if not any(member.keys.get(k) for k in config.keys) and not member.keys.get("service"):
        latest = max(candidates, key=lambda i: (i.updated_ts, i.incident_id), default=None)
        return [latest] if latest else []
    found = [i for i in candidates if linked(i, member, config, graph)]
    return sorted(found, key=lambda i: (i.opened_ts, i.incident_id))
