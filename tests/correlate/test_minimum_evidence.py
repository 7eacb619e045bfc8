"""Minimum evidence: what opens an incident, what waits, what is pulled in, and the anchor."""

from __future__ import annotations

import json

from streams.correlate.callgraph import CallGraph
from streams.correlate.engine import ClusterIncidents, LifecycleConfig
from streams.correlate.grouping import GroupingConfig, incident_id
from streams.correlate.members import from_alert, from_anomaly
from tests.correlate.scenario import alert, anomaly

C = "c1"
T0 = 1_700_000_000_000
MIN = 60_000
CFG = GroupingConfig(window_ms=300_000)  # the defaults: HIGH, two distinct signals
LIFE = LifecycleConfig()
NODE = {"node": "n1"}


def _feed(records: list[dict], cfg: GroupingConfig = CFG,
          state: ClusterIncidents | None = None) -> tuple[ClusterIncidents, dict[str, dict]]:
    state = state or ClusterIncidents()
    latest: dict[str, dict] = {}
    for rec in records:
        member = from_alert(rec) if "fingerprint" in rec else from_anomaly(rec)
        for out in state.handle(member, T0, cfg, LIFE, CallGraph()):
            latest[out["incident_id"]] = out
    return state, latest


def _cpu(aid: str, ts: int, severity: str = "HIGH") -> dict:
    return anomaly(C, aid, "NODE", "n1", "node_cpu_seconds_total", NODE, severity, ts)


def test_one_signal_alone_opens_nothing_however_loud_or_repeated() -> None:
    state, latest = _feed([_cpu(f"c{i}", T0 + i * 15_000, "CRITICAL") for i in range(6)])
    assert latest == {}
    assert len(state.pending) == 6


def test_a_second_strong_signal_on_a_linked_entity_opens_one_incident_with_the_rest() -> None:
    early_weak = anomaly(C, "w", "POD", "shop/db-0", "container_memory_rss",
                         {"namespace": "shop", "pod": "db-0", "node": "n1"}, "LOW", T0)
    unrelated = anomaly(C, "u", "NODE", "n9", "node_load1", {"node": "n9"}, "HIGH", T0)
    cpu = _cpu("cpu", T0 + MIN)
    disk = anomaly(C, "disk", "NODE", "n1", "node_filesystem_avail_bytes", NODE, "HIGH",
                   T0 + 2 * MIN)
    state, latest = _feed([early_weak, unrelated, cpu, disk])
    assert list(latest) == [incident_id(from_anomaly(cpu))]  # its first strong member
    inc = latest[incident_id(from_anomaly(cpu))]
    assert sorted(inc["anomaly_ids"]) == ["cpu", "disk", "w"]  # the weak sign pulled in
    assert inc["status"] == "OPEN" and inc["version"] == 1
    assert [m.member_id for m in state.pending] == ["u"]
    later_weak = _cpu("late", T0 + 3 * MIN, "LOW")
    _, more = _feed([later_weak], state=state)
    assert sorted(next(iter(more.values()))["anomaly_ids"]) == ["cpu", "disk", "late", "w"]


def test_a_firing_alert_or_a_rule_breach_opens_alone() -> None:
    weak = anomaly(C, "w", "POD", "cache/redis-0", "container_memory_rss",
                   {"namespace": "cache", "pod": "redis-0", "node": "n3"}, "LOW", T0)
    too_old = anomaly(C, "old", "POD", "cache/redis-0", "container_memory_rss",
                      {"namespace": "cache", "pod": "redis-0", "node": "n3"}, "LOW",
                      T0 - 10 * MIN)
    state, latest = _feed([too_old, weak, alert(C, "fp", "FIRING", T0 + MIN)])
    (inc,) = latest.values()
    assert inc["anomaly_ids"] == ["w"] and inc["alert_fingerprints"] == ["fp"]
    xid = anomaly(C, "xid", "GPU", "n1/GPU-a", "gpu_xid", {"node": "n1", "UUID": "GPU-a"},
                  "CRITICAL", T0, detector="rule:gpu_xid")
    _, latest = _feed([xid])
    assert [i["anomaly_ids"] for i in latest.values()] == [["xid"]]
    # A resolved alert with no incident opens nothing.
    _, latest = _feed([alert(C, "fp2", "RESOLVED", T0, T0 + MIN)])
    assert latest == {}


def test_weak_noise_after_the_last_strong_member_does_not_keep_the_incident_growing() -> None:
    opening = [_cpu("cpu", T0), anomaly(C, "load", "NODE", "n1", "node_load1", NODE, "HIGH",
                                        T0 + 15_000)]
    trickle = [_cpu(f"t{i}", T0 + i * 4 * MIN, "LOW") for i in range(1, 6)]
    state, latest = _feed(opening + trickle)
    (inc,) = latest.values()
    # within 5 minutes of the last strong member: t1 (4 min); t2 (8 min) onwards wait
    assert sorted(inc["anomaly_ids"]) == ["cpu", "load", "t1"]
    assert {m.member_id for m in state.pending} >= {"t4", "t5"}


def test_pending_members_stay_out_of_the_stored_state_and_age_out() -> None:
    state, _ = _feed([_cpu("a", T0), _cpu("b", T0 + 15_000, "LOW")])
    assert state.pending.strong_signals == {"node_cpu_seconds_total": 1}
    copy = ClusterIncidents.from_dict(json.loads(json.dumps(state.to_dict())))
    assert copy.to_dict() == state.to_dict() and len(copy.pending) == 0  # live buffer only
    # the live state: a strong second signal now corroborates the pending one
    _, latest = _feed([anomaly(C, "d", "NODE", "n1", "node_disk_io_time_seconds_total",
                               NODE, "HIGH", T0 + MIN)], state=state)
    assert sorted(next(iter(latest.values()))["anomaly_ids"]) == ["a", "b", "d"]
    aged, _ = _feed([_cpu("x", T0), _cpu("y", T0 + 11 * MIN, "LOW")])
    assert [m.member_id for m in aged.pending] == ["y"]  # two windows behind the newest
