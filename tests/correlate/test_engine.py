"""Grouping and lifecycle without Faust: topology keys, call graph, merge, quiet period."""

from __future__ import annotations

import doctest
import importlib

import pytest

from streams.correlate.callgraph import CallGraph
from streams.correlate.engine import ClusterIncidents, LifecycleConfig
from streams.correlate.grouping import GroupingConfig, incident_id
from streams.correlate.members import GROUP_KEYS, from_alert, from_anomaly
from tests.correlate.scenario import EDGES, alert, anomaly, first_wave, second_wave

C = "c1"
T0 = 1_700_000_000_000
# Linking and lifecycle: a HIGH member opens an incident alone here (minimum evidence has its
# own tests in test_minimum_evidence.py); EVERY lets any member open one.
GROUPING = GroupingConfig(window_ms=300_000, open_signals=1)
EVERY = GroupingConfig(window_ms=300_000, open_severity="INFO", open_signals=1)
LIFE = LifecycleConfig(quiet_ms=60_000, retain_resolved_ms=600_000)
GRAPH = CallGraph({C: EDGES})


def _run(records, graph=GRAPH, grouping=GROUPING, now=T0):
    state = ClusterIncidents()
    out = []
    for i, rec in enumerate(records):
        member = from_alert(rec) if "fingerprint" in rec else from_anomaly(rec)
        out += state.handle(member, now + i, grouping, LIFE, graph)
    return state, out


def _latest(records):
    latest = {}
    for r in records:
        latest[r["incident_id"]] = r
    return latest


@pytest.mark.parametrize("name", ["members", "severity", "callgraph", "lifecycle",
                                  "grouping", "pending"])
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(f"streams.correlate.{name}"))
    assert result.failed == 0 and result.attempted > 0


def test_two_unrelated_faults_and_a_cascade_make_three_incidents() -> None:
    records = first_wave(C, T0) + [alert(C, "fp", "FIRING", T0 + 3000)] + second_wave(C, T0)
    state, out = _run(records)
    latest = _latest(out)
    groups = sorted(sorted(r["anomaly_ids"]) for r in latest.values())
    assert groups == [["cart-latency", "frontend-errors", "redis-mem"], ["gpu-temp", "gpu-xid"],
                      ["ptp-offset"]]
    severities = {tuple(sorted(r["anomaly_ids"]))[0]: r["severity"] for r in latest.values()}
    assert severities == {"cart-latency": "CRITICAL", "gpu-temp": "HIGH",
                          "ptp-offset": "CRITICAL"}
    # The first version of each is OPEN, later ones UPDATED, versions count up by one.
    for iid in latest:
        versions = [r for r in out if r["incident_id"] == iid]
        assert [r["version"] for r in versions] == list(range(1, len(versions) + 1))
        assert [r["status"] for r in versions] == ["OPEN"] + ["UPDATED"] * (len(versions) - 1)
    assert set(latest) == {incident_id(from_anomaly(a)) for a in first_wave(C, T0)}


def test_without_the_call_graph_the_cascade_splits() -> None:
    state, out = _run(first_wave(C, T0) + second_wave(C, T0), graph=CallGraph())
    # cart's latency and frontend's errors (MEDIUM) link to nothing: they wait, unopened
    assert len(_latest(out)) == 3
    assert sorted(m.member_id for m in state.pending) == ["cart-latency", "frontend-errors"]
    _, out = _run(first_wave(C, T0) + second_wave(C, T0), graph=CallGraph(), grouping=EVERY)
    assert len(_latest(out)) == 5


def test_shared_namespace_groups_only_when_the_key_is_enabled() -> None:
    a = anomaly(C, "a", "POD", "shop/a-0", "cpu", {"namespace": "shop", "node": "n1"},
                "LOW", T0)
    b = anomaly(C, "b", "POD", "shop/b-0", "cpu", {"namespace": "shop", "node": "n2"},
                "LOW", T0 + 1000)
    assert "namespace" not in EVERY.keys  # too coarse to be on by default
    assert len(_latest(_run([a, b], grouping=EVERY)[1])) == 2
    wide = GroupingConfig(window_ms=300_000, keys=GROUP_KEYS, open_severity="INFO",
                          open_signals=1)
    assert len(_latest(_run([a, b], grouping=wide)[1])) == 1


def test_outside_the_window_a_new_incident_opens() -> None:
    a = anomaly(C, "a", "NODE", "n1", "node_load", {}, "LOW", T0)
    b = anomaly(C, "b", "NODE", "n1", "node_load", {}, "LOW", T0 + 301_000)
    assert len(_latest(_run([a, b], grouping=EVERY)[1])) == 2


def test_replays_and_repeats_add_no_version() -> None:
    records = first_wave(C, T0)
    state, out = _run(records + records)
    assert len(out) == 3
    fp = alert(C, "fp", "FIRING", T0 + 3000)
    _, again = _run(records + [fp, fp, fp])
    assert len(again) == 4


def test_a_member_linking_two_incidents_merges_them() -> None:
    a = anomaly(C, "a", "POD", "x/a-0", "cpu", {"namespace": "x", "node": "n1"}, "LOW", T0)
    b = anomaly(C, "b", "POD", "y/b-0", "cpu", {"namespace": "y", "node": "n2"}, "HIGH",
                T0 + 1000)
    link = anomaly(C, "l", "NODE", "n1", "net", {"node": "n1", "namespace": "y"}, "LOW",
                   T0 + 2000)
    wide = GroupingConfig(window_ms=300_000, keys=GROUP_KEYS, open_severity="INFO",
                          open_signals=1)
    state, out = _run([a, b, link], grouping=wide)
    merged = [r for r in out if r["status"] == "RESOLVED"]
    assert len(merged) == 1 and "Merged into" in merged[0]["summary"]
    survivor = _latest(out)[incident_id(from_anomaly(a))]
    assert sorted(survivor["anomaly_ids"]) == ["a", "b", "l"]
    assert survivor["severity"] == "HIGH"
    assert len(state.open_incidents()) == 1


def test_a_weak_member_joins_the_oldest_incident_but_merges_nothing() -> None:
    a = anomaly(C, "a", "POD", "x/a-0", "cpu", {"namespace": "x", "node": "n1"}, "HIGH", T0)
    b = anomaly(C, "b", "POD", "y/b-0", "cpu", {"namespace": "y", "node": "n2"}, "HIGH",
                T0 + 1000)
    link = anomaly(C, "l", "NODE", "n1", "net", {"node": "n1", "namespace": "y"}, "LOW",
                   T0 + 2000)
    wide = GroupingConfig(window_ms=300_000, keys=GROUP_KEYS, open_signals=1)
    state, out = _run([a, b, link], grouping=wide)
    assert not [r for r in out if r["status"] == "RESOLVED"]
    latest = _latest(out)
    assert sorted(latest[incident_id(from_anomaly(a))]["anomaly_ids"]) == ["a", "l"]
    assert latest[incident_id(from_anomaly(b))]["anomaly_ids"] == ["b"]
    assert len(state.open_incidents()) == 2


def test_quiet_period_resolves_but_a_firing_alert_holds_it_open() -> None:
    state, _ = _run(first_wave(C, T0) + [alert(C, "fp", "FIRING", T0 + 3000)])
    assert state.tick(T0 + 30_000, LIFE) == []
    resolved = state.tick(T0 + 61_000, LIFE)
    assert sorted(r["anomaly_ids"][0] for r in resolved) == ["gpu-xid", "ptp-offset"]
    assert all(r["status"] == "RESOLVED" and r["resolved_ts"] == T0 + 61_000
               for r in resolved)
    assert state.tick(T0 + 200_000, LIFE) == []  # the redis alert still fires
    member = from_alert(alert(C, "fp", "RESOLVED", T0 + 3000, T0 + 90_000))
    update = state.handle(member, T0 + 200_000, GROUPING, LIFE, GRAPH)
    assert len(update) == 1 and update[0]["status"] == "UPDATED"
    final = state.tick(T0 + 261_000, LIFE)
    assert [r["status"] for r in final] == ["RESOLVED"]
    # Resolved incidents are kept for replays, then forgotten.
    assert state.handle(from_anomaly(first_wave(C, T0)[0]), T0 + 262_000, GROUPING, LIFE,
                        GRAPH) == []
    state.tick(T0 + 261_000 + 600_000, LIFE)
    assert state.incidents == {}


def test_state_round_trips_through_json() -> None:
    import json

    state, _ = _run(first_wave(C, T0) + second_wave(C, T0))
    copy = ClusterIncidents.from_dict(json.loads(json.dumps(state.to_dict())))
    assert copy.to_dict() == state.to_dict()


def test_unknown_grouping_key_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown grouping keys"):
        GroupingConfig.parse_keys("node,rack")


def test_alert_members_take_topology_from_labels() -> None:
    m = from_alert(alert(C, "fp", "FIRING", T0))
    assert m.entity == "POD:cache/redis-0" and m.severity == "CRITICAL" and m.firing
    assert m.keys["node"] == ["n3"] and m.keys["service"] == ["cache/redis"]


def test_state_written_with_per_member_severities_still_loads() -> None:
    state, _ = _run(first_wave(C, T0))
    data = state.to_dict()
    for inc in data["incidents"].values():  # the older state format
        del inc["top_severity"]
        inc["member_severity"] = {aid: "CRITICAL" for aid in inc["anomaly_ids"]}
    old = ClusterIncidents.from_dict(data)
    assert {i.severity for i in old.incidents.values()} == {"CRITICAL"}
