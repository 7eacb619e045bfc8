"""Scorecard rules on hand-made faults, incidents and reports (no pipeline needed)."""

from __future__ import annotations

import pytest

from streams.scorecard.matching import cause_rank, fault_free_hours, score
from streams.scorecard.model import Cause, Fault, Incident, Report

MIN = 60_000
T0 = 1_700_000_000_000


def fault(fid: str, kind: str, cluster: str, start_min: int, end_min: int, rtype: str,
          root: str, affected: tuple[str, ...] = ()) -> Fault:
    return Fault(fid, kind, cluster, T0 + start_min * MIN, T0 + end_min * MIN, rtype, root,
                 (f"{rtype}:{root}", *affected))


def incident(iid: str, cluster: str, opened_min: float, *entities: str) -> Incident:
    return Incident(iid, cluster, int(T0 + opened_min * MIN), f"incident {iid}", entities)


def report(iid: str, *causes: tuple[str, str], created: int = 0) -> Report:
    return Report(iid, T0 + created, tuple(Cause(i + 1, t, e) for i, (t, e) in enumerate(causes)))


CPU = fault("f-cpu", "cpu_saturation", "hub-000", 10, 14, "POD", "boutique/checkout-abc-1",
            ("SERVICE:boutique/checkoutservice",))
GPU = fault("f-gpu", "gpu_thermal_throttle", "spoke-001", 11, 16, "GPU", "gpu-0/GPU-1")
PTP = fault("f-ptp", "ptp_freerun", "edge-002", 13, 17, "PTP_CLOCK", "sno-0/ens1f0")
SPAN = {c: (T0, T0 + 60 * MIN) for c in ("hub-000", "spoke-001", "edge-002")}


def test_detected_top1_and_time_to_detect() -> None:
    inc = incident("i1", "hub-000", 11.5, "POD:boutique/checkout-abc-1")
    card = score([CPU], [inc], [report("i1", ("POD", "boutique/checkout-abc-1"))],
                 {"hub-000": SPAN["hub-000"]})
    s = card.faults[0]
    assert s.detected and s.top1 and s.top3
    assert s.time_to_detect_s == pytest.approx(90.0)
    assert s.top_cause == "POD:boutique/checkout-abc-1"
    assert card.false_incidents == []
    assert card.detected_ratio == 1.0 and card.top1_ratio == 1.0


def test_missed_fault_when_no_incident_on_its_cluster_or_window() -> None:
    wrong_cluster = incident("i1", "edge-002", 11, "POD:boutique/checkout-abc-1")
    too_late = incident("i2", "hub-000", 14 + 6)  # beyond end + 5 min grace
    too_early = incident("i3", "hub-000", 8)  # more than 60 s before the start
    card = score([CPU], [wrong_cluster, too_late, too_early], [], SPAN)
    assert not card.faults[0].detected
    assert card.faults[0].time_to_detect_s is None
    assert card.detected_ratio == 0.0
    assert sorted(card.false_incidents) == ["i1", "i2", "i3"]


def test_wrong_cause_counts_as_detected_but_not_top1() -> None:
    inc = incident("i1", "spoke-001", 12, "GPU:gpu-0/GPU-1")
    rep = report("i1", ("SERVICE", "llm/vllm"), ("NODE", "gpu-0"), ("GPU", "gpu-0/GPU-1"))
    card = score([GPU], [inc], [rep], SPAN)
    s = card.faults[0]
    assert s.detected and not s.top1 and s.top3 and s.cause_rank == 3
    rep4 = report("i1", ("SERVICE", "llm/vllm"), ("NODE", "gpu-0"), ("POD", "llm/x"),
                  ("GPU", "gpu-0/GPU-1"))
    card = score([GPU], [inc], [rep4], SPAN)
    assert card.faults[0].cause_rank == 4 and not card.faults[0].top3
    assert card.top3_ratio == 0.0


def test_type_must_match_as_well_as_identity() -> None:
    rep = report("i1", ("NODE", "sno-0/ens1f0"))
    assert cause_rank(PTP, rep) is None
    assert cause_rank(PTP, report("i1", ("ptp_clock", "sno-0/ens1f0"))) == 1


def test_latest_report_of_an_incident_wins() -> None:
    inc = incident("i1", "edge-002", 14)
    early = report("i1", ("NODE", "sno-0"), created=1)
    late = report("i1", ("PTP_CLOCK", "sno-0/ens1f0"), created=2)
    assert score([PTP], [inc], [late, early], SPAN).faults[0].top1
    assert not score([PTP], [inc], [early], SPAN).faults[0].top1


def test_false_incident_rate_per_fault_free_cluster_hour() -> None:
    # one fault on hub-000 covering [10-1, 14+5] = 10 minutes of its 60; two clusters observed
    incs = [incident("ok", "hub-000", 11), incident("f1", "hub-000", 40),
            incident("f2", "spoke-001", 5)]
    card = score([CPU], incs, [], {"hub-000": SPAN["hub-000"], "spoke-001": SPAN["spoke-001"]})
    assert card.false_incidents == ["f1", "f2"]
    assert card.fault_free_hours == pytest.approx((50 + 60) / 60)
    assert card.false_incidents_per_hour == pytest.approx(round(2 / (110 / 60), 4))


def test_entity_overlap_disambiguates_concurrent_faults_on_one_cluster() -> None:
    other = fault("f-bad", "bad_deployment", "hub-000", 12, 16, "SERVICE",
                  "boutique/paymentservice")
    for_cpu = incident("a", "hub-000", 11, "POD:boutique/checkout-abc-1")
    for_pay = incident("b", "hub-000", 12.5, "SERVICE:boutique/paymentservice")
    vague = incident("c", "hub-000", 13, "NODE:worker-9")  # names neither: belongs to both
    card = score([CPU, other], [for_cpu, for_pay, vague], [], SPAN)
    by_id = {s.fault_id: s for s in card.faults}
    assert by_id["f-cpu"].incident_ids == ["a", "c"]
    assert by_id["f-bad"].incident_ids == ["b", "c"]
    assert card.false_incidents == []


def test_fault_free_hours_merges_overlapping_windows() -> None:
    a = fault("a", "x", "hub-000", 10, 20, "NODE", "n")
    b = fault("b", "x", "hub-000", 15, 30, "NODE", "n")
    hours = fault_free_hours([a, b], {"hub-000": (T0, T0 + 60 * MIN)}, early_s=0, grace_s=0)
    assert hours == pytest.approx(40 / 60)


def test_json_has_the_headline_figures() -> None:
    card = score([CPU, GPU], [incident("i1", "hub-000", 10.5)], [], SPAN)
    j = card.to_json()
    for key in ("detected_ratio", "top1_ratio", "top3_ratio", "false_incidents_per_hour",
                "rows_lost", "dead_letters", "samples_per_s", "lag_p99_s"):
        assert key in j
    assert j["detected_ratio"] == 0.5 and j["top1_ratio"] == 0.0
    assert j["by_kind"]["gpu_thermal_throttle"] == {"faults": 1, "detected": 0,
                                                    "detected_by_anomaly": 0, "top1": 0,
                                                    "top3": 0}


def test_empty_run_has_no_ratios() -> None:
    card = score([], [], [], {})
    assert card.detected_ratio is None and card.false_incidents_per_hour is None


def test_shown_cause_comes_from_the_incident_that_ranked_the_truth_best() -> None:
    wrong = incident("i1", "hub-000", 10.5)
    right = incident("i2", "hub-000", 11)
    reps = [report("i1", ("NODE", "worker-1")),
            report("i2", ("POD", "boutique/checkout-abc-1"))]
    s = score([CPU], [wrong, right], reps, SPAN).faults[0]
    assert s.top1 and s.top_cause == "POD:boutique/checkout-abc-1"
    assert s.time_to_detect_s == 30.0  # from the first incident


def test_anomaly_diagnostic_counts_the_fault_clusters_window_only() -> None:
    anomalies = [("hub-000", T0 + 11 * MIN), ("hub-000", T0 + 30 * MIN),
                 ("edge-002", T0 + 11 * MIN)]
    card = score([CPU], [], [], SPAN, anomalies=anomalies)
    assert card.faults[0].anomalies == 1 and not card.faults[0].detected
    assert card.to_json()["anomalies"] == 3


def test_an_older_incident_that_absorbs_the_faults_anomalies_detects_it() -> None:
    # opened by noise long before the fault; gains members during it
    absorbing = Incident("old", "hub-000", T0 + 1 * MIN, "noise", (),
                         member_ts=(T0 + 1 * MIN, T0 + 12 * MIN, T0 + 13 * MIN))
    untouched = Incident("quiet", "hub-000", T0 + 2 * MIN, "noise", (),
                         member_ts=(T0 + 2 * MIN, T0 + 3 * MIN))
    card = score([CPU], [absorbing, untouched], [], SPAN)
    s = card.faults[0]
    assert s.detected and s.incident_ids == ["old"]
    assert s.time_to_detect_s == 120.0  # first member inside the window
    assert card.false_incidents == ["quiet"]


def test_an_incident_holding_only_the_fleets_alert_is_not_detection_by_anomaly() -> None:
    alert_only = Incident("al", "hub-000", T0 + 10 * MIN, "CPUThrottlingHigh", (),
                          alert_ts=(T0 + 10 * MIN,))
    card = score([CPU], [alert_only], [], SPAN)
    s = card.faults[0]
    assert s.detected and s.time_to_detect_s == 0.0
    assert not s.detected_by_anomaly and s.anomaly_time_to_detect_s is None
    both = Incident("b", "hub-000", T0 + 10 * MIN, "x", (), member_ts=(T0 + 12 * MIN,),
                    alert_ts=(T0 + 10 * MIN,))
    s = score([CPU], [both], [], SPAN).faults[0]
    assert s.detected_by_anomaly and s.anomaly_time_to_detect_s == 120.0
    assert card.to_json()["detected_by_anomaly_ratio"] == 0.0


def test_a_deployment_and_its_service_are_one_workload_but_a_pod_or_node_is_not() -> None:
    bad = fault("f-bad", "bad_deployment", "hub-000", 12, 16, "SERVICE",
                "boutique/paymentservice")
    assert cause_rank(bad, report("i", ("DEPLOYMENT", "boutique/paymentservice"))) == 1
    assert cause_rank(bad, report("i", ("POD", "boutique/paymentservice-abc-1"))) is None
    assert cause_rank(bad, report("i", ("DEPLOYMENT", "boutique/cartservice"))) is None
    assert cause_rank(GPU, report("i", ("NODE", "gpu-0"), ("SERVICE", "gpu-0/GPU-1"))) is None


def test_time_to_detect_counts_from_the_fault_start_not_from_earlier_noise() -> None:
    # noise 30 s before the fault (inside the early window), the fault's signs 45 s after
    noisy = Incident("n", "hub-000", T0 + 9 * MIN + 30_000, "noise", (),
                     member_ts=(T0 + 9 * MIN + 30_000, T0 + 10 * MIN + 45_000),
                     member_entities=((T0 + 9 * MIN + 30_000, "NODE:worker-9"),
                                      (T0 + 10 * MIN + 45_000, "NODE:worker-9")))
    s = score([CPU], [noisy], [], SPAN).faults[0]
    assert s.detected and s.time_to_detect_s == 45.0 and s.anomaly_time_to_detect_s == 45.0
    # anomaly time: the first member on one of the fault's entities, when there is one
    on_target = Incident("t", "hub-000", T0 + 10 * MIN, "cpu", (),
                         member_ts=(T0 + 10 * MIN + 15_000, T0 + 11 * MIN),
                         member_entities=((T0 + 10 * MIN + 15_000, "NODE:worker-9"),
                                          (T0 + 11 * MIN, "POD:boutique/checkout-abc-1")))
    s = score([CPU], [on_target], [], SPAN).faults[0]
    assert s.time_to_detect_s == 0.0 and s.anomaly_time_to_detect_s == 60.0
    # an incident holding only what came before the start: open at the start, delay 0
    before = Incident("b", "hub-000", T0 + 9 * MIN + 10_000, "x", (),
                      member_ts=(T0 + 9 * MIN + 10_000,))
    s = score([CPU], [before], [], SPAN).faults[0]
    assert s.detected and s.time_to_detect_s == 0.0 and s.anomaly_time_to_detect_s == 0.0
