"""Members waiting for an incident, indexed by the topology keys that link them.

A member that joins no incident and cannot open one alone waits here, for one grouping
window of event time: it may corroborate others into an incident, or be pulled into an
incident that opens or grows near it. The index keeps both look-ups proportional to the
members that share a key, not to everything pending.

>>> from streams.correlate.members import Member
>>> pool = PendingPool()
>>> pool.add(Member("ANOMALY", "a1", "c1", 1000, "LOW", "NODE:n1", "cpu", {"node": ["n1"]}))
>>> pool.add(Member("ANOMALY", "a2", "c1", 2000, "LOW", "NODE:n2", "cpu", {"node": ["n2"]}))
>>> [m.member_id for m in pool.near({"node": ["n1"]}, ("node",), 0, 5000)]
['a1']
>>> pool.prune(horizon_ts=1500); [m.member_id for m in pool]
['a2']
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping

from streams.correlate.callgraph import CallGraph, bare
from streams.correlate.members import Member

#: Index entry of members with no topology key at all (cluster-wide signals).
_KEYLESS = "*"


def signal_name(member: Member) -> str:
    """The metric (or alert) name of a member's signal (``"cpu SPIKE"`` -> ``"cpu"``)."""
    return member.signal.split(" ", 1)[0]


def _index_keys(member: Member) -> list[str]:
    keys = [f"{k}={v}" for k, values in member.keys.items() for v in values]
    keys += [f"svc={bare(s)}" for s in member.keys.get("service", ())]
    return keys or [_KEYLESS]


class PendingPool:
    """Pending members of one cluster, oldest first, with a key -> member index."""

    def __init__(self, members: Iterable[Member] = ()) -> None:
        self.members: dict[str, Member] = {}
        self._index: dict[str, set[str]] = defaultdict(set)
        self.newest_ts = 0
        self.strong_ids: set[str] = set()
        self.strong_signals: Counter[str] = Counter()
        """Pending members marked strong (able to open an incident), per signal name."""
        for m in members:
            self.add(m)

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self) -> Iterator[Member]:
        return iter(list(self.members.values()))

    def __contains__(self, member_id: object) -> bool:
        return member_id in self.members

    def add(self, member: Member, strong: bool = False) -> None:
        if member.member_id in self.members:
            return
        self.members[member.member_id] = member
        if strong:
            self.strong_ids.add(member.member_id)
            self.strong_signals[signal_name(member)] += 1
        self.newest_ts = max(self.newest_ts, member.ts)
        for key in _index_keys(member):
            self._index[key].add(member.member_id)

    def remove(self, ids: Iterable[str]) -> None:
        for mid in ids:
            member = self.members.pop(mid, None)
            if member is None:
                continue
            if mid in self.strong_ids:
                self.strong_ids.discard(mid)
                name = signal_name(member)
                self.strong_signals[name] -= 1
                if self.strong_signals[name] <= 0:
                    del self.strong_signals[name]
            for key in _index_keys(member):
                bucket = self._index.get(key)
                if bucket is not None:
                    bucket.discard(mid)
                    if not bucket:
                        del self._index[key]

    def prune(self, horizon_ts: int, cap: int | None = None) -> None:
        """Forget members older than ``horizon_ts``, then the oldest beyond ``cap``. Cheap
        when nothing is due: members arrive roughly in event-time order, so only a first
        (oldest arrived) member past the horizon starts a full pass."""
        first = next(iter(self.members.values()), None)
        if first is None or (first.ts >= horizon_ts and (cap is None or len(self) <= cap)):
            return
        old = [mid for mid, m in self.members.items() if m.ts < horizon_ts]
        if cap is not None and len(self.members) - len(old) > cap:
            keep = [mid for mid in self.members if mid not in set(old)]
            old += keep[: len(keep) - cap]
        self.remove(old)

    def near(self, keys: Mapping[str, Iterable[str]], link_keys: Iterable[str], lo_ts: int,
             hi_ts: int, graph: CallGraph | None = None, cluster: str = "",
             keyless: bool = False) -> list[Member]:
        """Members with event time in ``[lo_ts, hi_ts]`` that share one of ``link_keys``
        with ``keys``, or (``graph``) whose service calls or is called by one of its
        services; ``keyless`` adds those with no key at all. In no particular order."""
        ids: set[str] = set()
        for k in link_keys:
            for v in keys.get(k, ()):
                ids |= self._index.get(f"{k}={v}", set())
        if graph is not None:
            for svc in keys.get("service", ()):
                for nb in graph.neighbours(cluster, svc):
                    ids |= self._index.get(f"svc={nb}", set())
        if keyless:
            ids |= self._index.get(_KEYLESS, set())
        members = self.members
        return [members[i] for i in ids if lo_ts <= members[i].ts <= hi_ts]
