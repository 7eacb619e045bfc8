"""The member cap bounds noisy repeats but never hides new evidence."""

from __future__ import annotations

from streams.correlate.lifecycle import IncidentState
from streams.correlate.members import Member


def _member(i: int, entity: str, severity: str = "LOW") -> Member:
    return Member(kind="ANOMALY", member_id=f"a{i}", cluster="c1", ts=1_000 + i,
                  severity=severity, entity=entity, signal="x")


def test_cap_drops_repeats_but_admits_new_entities_and_severe_members() -> None:
    inc = IncidentState.open("inc-1", _member(0, "NODE:n1"), 0, max_members=3)
    for i in (1, 2):
        assert inc.add(_member(i, "NODE:n1"), 0)
    assert not inc.add(_member(3, "NODE:n1"), 0)  # a repeat of a listed entity: counted only
    assert inc.overflow == 1
    assert inc.add(_member(4, "GPU:n1/GPU-1"), 0)  # new entity: the likely explanation
    assert inc.add(_member(5, "NODE:n1", "CRITICAL"), 0)  # severe
    assert inc.add(_member(6, "PTP_CLOCK:n1/ens1"), 0)
    assert len(inc.anomaly_ids) == 6
    assert not inc.add(_member(7, "DEPLOYMENT:ns/d"), 0)  # hard bound: twice the cap
    assert inc.overflow == 2
