"""Fault specs, schedules and the ground truth's entity naming convention."""

from __future__ import annotations

import re

import pytest

from schemas.codec import Codec
from streams.simulator.faults import (
    CATALOGUE,
    SCHEDULES,
    load_schedule,
    parse_spec,
    resolve_all,
)
from streams.simulator.topology import build_fleet

ENTITY = {
    "SERVICE": r"^[a-z-]+/[a-z-]+$",
    "POD": r"^[a-z-]+/[a-z-]+-[a-z0-9]{10}-[a-z0-9]{5}$",
    "NODE": r"^[a-z]+-\d+$",
    "GPU": r"^[a-z]+-\d+/GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    "PTP_CLOCK": r"^[a-z]+-\d+/ens\w+$",
    "CLUSTER": r"^[a-z]+-\d{3}$",
}


def test_spec_grammar() -> None:
    s = parse_spec("network_delay@+90s/2m:caller=frontend,callee=cartservice,delay_ms=300")
    assert (s.start_ms, s.duration_ms) == (90_000, 120_000)
    assert s.options == {"caller": "frontend", "callee": "cartservice", "delay_ms": "300"}


@pytest.mark.parametrize("bad, reason", [
    ("meltdown@+1m/1m", "unknown fault kind"), ("cpu_saturation", "expected kind@"),
    ("cpu_saturation@+1m", "expected kind@"), ("cpu_saturation@+1x/1m", "bad duration"),
    ("cpu_saturation@+1m/1m:pod", "not key=value"), ("cpu_saturation@+1m/0s", "positive"),
])
def test_bad_specs_are_rejected_with_the_reason(bad: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_spec(bad)


def test_yaml_schedule(tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("- gpu_xid_error@+1m/2m\n- kind: packet_loss\n  start: 3m\n  duration: 1m\n"
                    "  loss_pct: 40\n")
    specs = load_schedule(str(path))
    assert [s.kind for s in specs] == ["gpu_xid_error", "packet_loss"]
    assert specs[1].options == {"loss_pct": "40"}
    with pytest.raises(ValueError, match="no schedule"):
        load_schedule(str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_named_schedules_resolve_on_a_four_cluster_fleet(name: str) -> None:
    fleet = build_fleet(4, 1)
    faults = resolve_all(load_schedule(name), fleet, 1, 0)
    assert len(faults) == len(SCHEDULES[name])
    if name == "all-kinds":
        assert {f.kind for f in faults} == set(CATALOGUE)


def test_ground_truth_names_entities_by_the_convention() -> None:
    fleet = build_fleet(4, 2)
    faults = resolve_all(load_schedule("all-kinds"), fleet, 2, 1_000)
    codec = Codec("fault_record")
    names = {c.name for c in fleet}
    for f in faults:
        assert f.cluster in names
        assert re.match(ENTITY[f.root_cause_type], f.root_cause), (f.kind, f.root_cause)
        assert f.root_cause_type == CATALOGUE[f.kind].entity_type
        assert f.affected[0] == f"{f.root_cause_type}:{f.root_cause}"
        for a in f.affected:
            etype, ident = a.split(":", 1)
            assert re.match(ENTITY[etype], ident), a
        rec = f.record(2)
        assert codec.decode(codec.encode(rec)) == rec


def test_resolution_is_deterministic_and_honours_options() -> None:
    fleet = build_fleet(6, 3)
    specs = load_schedule("all-kinds")
    a = [f.record(3) for f in resolve_all(specs, fleet, 3, 0)]
    b = [f.record(3) for f in resolve_all(specs, fleet, 3, 0)]
    assert a == b
    f = resolve_all([parse_spec("disk_pressure@+1m/1m:cluster=edge-002,node=cnf-0")], fleet, 3,
                    0)[0]
    assert (f.cluster, f.root_cause) == ("edge-002", "cnf-0")
    with pytest.raises(ValueError, match="no cluster"):
        resolve_all([parse_spec("gpu_xid_error@+1m/1m:cluster=hub-000")], fleet, 3, 0)
    with pytest.raises(ValueError, match="does not call"):
        resolve_all([parse_spec("network_delay@+1m/1m:caller=adservice,callee=redis-cart")],
                    fleet, 3, 0)


def test_spread_puts_each_fault_of_the_fleet_schedule_on_a_cluster_of_its_own() -> None:
    specs = load_schedule("fleet-every-kind")
    faults = resolve_all(specs, build_fleet(100, 11), 11, 0)
    assert {f.kind for f in faults} == set(CATALOGUE) and len(faults) == 3 * len(CATALOGUE)
    assert len({f.cluster for f in faults}) == len(faults)
    assert all("cluster" not in f.parameters for f in faults)
    assert faults == resolve_all(specs, build_fleet(100, 11), 11, 0)  # deterministic
    # a fleet too small to spread over still gets every fault, sharing clusters
    small = resolve_all(specs, build_fleet(4, 11), 11, 0)
    assert len(small) == len(specs) and len({f.cluster for f in small}) <= 4
