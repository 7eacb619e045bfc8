"""Ranking rules on hand-made incidents: each causal pattern, callee over callers,
determinism, evidence and schema compatibility."""

from __future__ import annotations

import random

import pytest

from schemas.codec import Codec
from streams.rca import (
    DependencyEdge,
    IncidentContext,
    LogEvent,
    RankingConfig,
    TraceEvidence,
    rank,
)
from tests.rca.incidents import T0, anomaly


def top(ctx: IncidentContext) -> dict:
    return rank(ctx)[0]


# -- known causal patterns ---------------------------------------------------------------
def xid_incident(with_effect: bool = True) -> IncidentContext:
    anoms = [
        anomaly("GPU", "node-a/GPU-0", "DCGM_FI_DEV_XID_ERRORS", score=4.0, node="node-a",
                gpu="GPU-0", pod="trainer-7d9f-abcde"),
        # A louder but unrelated symptom elsewhere.
        anomaly("POD", "ml/api-5c7d-xyz12", "http_request_duration_seconds_p99", score=30.0,
                at_s=30, pod="api-5c7d-xyz12", service="api", node="node-b"),
    ]
    if with_effect:
        anoms.append(anomaly("POD", "ml/trainer-7d9f-abcde", "kube_pod_container_status_restarts",
                             score=5.0, at_s=20, pod="trainer-7d9f-abcde", node="node-a",
                             service="trainer"))
    return IncidentContext("inc-xid", "c1", anoms)


def test_gpu_xid_crash_blames_the_gpu() -> None:
    cause = top(xid_incident())
    assert (cause["entity_type"], cause["entity"], cause["pattern"]) == (
        "GPU", "node-a/GPU-0", "gpu_xid_crash")
    assert any(e["kind"] == "RULE" for e in cause["evidence"])


def test_xid_without_crash_is_no_pattern() -> None:
    causes = rank(xid_incident(with_effect=False))
    assert all(c["pattern"] == "" for c in causes)
    assert causes[0]["entity_type"] != "GPU"


def test_ptp_freerun_blames_the_clock() -> None:
    anoms = [
        anomaly("PTP_INTERFACE", "du-node-1/ens1f0", "openshift_ptp_clock_state", score=3.0,
                actual=0.0, expected=1.0, node="du-node-1", iface="ens1f0"),
        anomaly("POD", "ran/du-0", "du_fronthaul_errors_total", score=20.0, at_s=40,
                pod="du-0", service="du", node="du-node-1"),
        anomaly("POD", "ran/cu-0", "cu_latency_p99", score=15.0, at_s=45, pod="cu-0",
                service="cu", node="cu-node-1"),
    ]
    cause = top(IncidentContext("inc-ptp", "c1", anoms))
    assert (cause["entity_type"], cause["entity"], cause["pattern"]) == (
        "PTP_CLOCK", "du-node-1/ens1f0", "ptp_freerun_du")


def test_ptp_locked_is_no_pattern() -> None:
    anoms = [
        anomaly("PTP_INTERFACE", "du-node-1/ens1f0", "openshift_ptp_clock_state", score=3.0,
                actual=1.0, expected=1.0, node="du-node-1", iface="ens1f0"),
        anomaly("POD", "ran/du-0", "du_fronthaul_errors_total", score=20.0, at_s=40,
                pod="du-0", service="du", node="du-node-1"),
    ]
    assert all(c["pattern"] != "ptp_freerun_du" for c in rank(
        IncidentContext("inc", "c1", anoms)))


def test_a_port_in_holdover_outranks_the_system_clock_that_follows_it() -> None:
    """Rule breaches all score the cap: the port (HOLDOVER, clock class 7) and the node's
    CLOCK_REALTIME (phc2sys, offset 3.5 us) tied, and the name decided.  The system clock
    follows the port, so the port is the cause."""
    anoms = [
        anomaly("PTP_CLOCK", "sno-0/ens1f0", "openshift_ptp_clock_state", score=1e6,
                actual=2.0, expected=1.0, node="sno-0", iface="ens1f0"),
        anomaly("PTP_CLOCK", "sno-0/ens1f0", "openshift_ptp_clock_class", score=1e6,
                actual=7.0, expected=6.0, node="sno-0", iface="ens1f0"),
        anomaly("PTP_CLOCK", "sno-0/CLOCK_REALTIME", "openshift_ptp_offset_ns", score=1e6,
                at_s=15, actual=3537.0, expected=100.0, node="sno-0", iface="CLOCK_REALTIME"),
    ]
    cause = top(IncidentContext("inc-ptp", "c1", anoms))
    assert (cause["entity"], cause["pattern"]) == ("sno-0/ens1f0", "ptp_port_system_clock")
    # Another node's system clock is not this port's effect.
    anoms[2] = anomaly("PTP_CLOCK", "sno-1/CLOCK_REALTIME", "openshift_ptp_offset_ns",
                       score=1e6, at_s=15, node="sno-1", iface="CLOCK_REALTIME")
    assert all(c["pattern"] != "ptp_port_system_clock"
               for c in rank(IncidentContext("inc", "c1", anoms)))


def test_oomkill_then_restarts_blames_the_pod() -> None:
    anoms = [
        anomaly("POD", "shop/cart-6f-abc", "kube_pod_container_status_last_terminated_oom",
                score=3.0, pod="cart-6f-abc", service="cart"),
        anomaly("POD", "shop/cart-6f-abc", "kube_pod_container_status_restarts_total",
                score=4.0, at_s=10, pod="cart-6f-abc", service="cart"),
        anomaly("SERVICE", "frontend", "http_server_latency_p99", score=40.0, at_s=20,
                service="frontend"),
    ]
    cause = top(IncidentContext("inc-oom", "c1", anoms))
    assert (cause["entity_type"], cause["entity"], cause["pattern"]) == (
        "POD", "shop/cart-6f-abc", "oomkill_restarts")


def test_deployment_change_then_errors_blames_the_deployment() -> None:
    anoms = [
        anomaly("DEPLOYMENT", "shop/checkout", "deployment_rollout_generation_change",
                score=2.0, deployment="checkout", namespace="shop"),
        anomaly("POD", "shop/checkout-7c-q1", "http_server_errors_ratio", score=12.0, at_s=60,
                pod="checkout-7c-q1", service="checkout"),
        anomaly("POD", "shop/payment-1-q1", "http_server_latency_p99", score=25.0, at_s=90,
                pod="payment-1-q1", service="payment"),
    ]
    cause = top(IncidentContext("inc-deploy", "c1", anoms))
    assert (cause["entity_type"], cause["entity"], cause["pattern"]) == (
        "DEPLOYMENT", "shop/checkout", "deployment_change_errors")


def test_errors_before_the_change_are_not_caused_by_it() -> None:
    anoms = [
        anomaly("DEPLOYMENT", "shop/checkout", "deployment_rollout_generation_change",
                score=2.0, at_s=3600, deployment="checkout", namespace="shop"),
        anomaly("POD", "shop/checkout-7c-q1", "http_server_errors_ratio", score=12.0,
                pod="checkout-7c-q1", service="checkout"),
    ]
    assert all(c["pattern"] == "" for c in rank(IncidentContext("inc", "c1", anoms)))


# -- callee over callers -------------------------------------------------------------------
def chain(with_edges: bool) -> IncidentContext:
    """frontend -> checkout -> payment; the callers' symptoms are louder than payment's."""
    anoms = [
        anomaly("SERVICE", "frontend", "http_server_latency_p99", score=60.0, at_s=30,
                service="frontend"),
        anomaly("SERVICE", "checkout", "http_server_latency_p99", score=50.0, at_s=20,
                service="checkout"),
        anomaly("SERVICE", "payment", "http_server_latency_p99", score=20.0, at_s=0,
                service="payment"),
    ]
    edges = [DependencyEdge("frontend", "checkout"), DependencyEdge("checkout", "payment")]
    return IncidentContext("inc-chain", "c1", anoms, edges if with_edges else [])


def test_callee_explaining_its_callers_ranks_first() -> None:
    causes = rank(chain(with_edges=True))
    assert [c["entity"] for c in causes[:3]] == ["payment", "checkout", "frontend"]
    assert any(e["kind"] == "TOPOLOGY" for e in causes[0]["evidence"])


def test_without_the_graph_the_loudest_symptom_wins() -> None:
    # Control for the test above: the order there comes from the graph rule.
    assert top(chain(with_edges=False))["entity"] == "frontend"


def test_callee_starting_later_does_not_explain() -> None:
    ctx = chain(with_edges=True)
    for a in ctx.anomalies:
        if a["entity"] == "payment":
            a["start_ts"] = T0 + 600_000
    assert top(ctx)["entity"] != "payment"


def test_a_slight_callee_slowdown_does_not_explain_a_large_one() -> None:
    # The caller got 1 s slower; a callee 3 ms slower explains almost none of it, however
    # many sigmas its (quantised, quiet) latency moved.  A callee 1 s slower explains it.
    def ctx(callee_delta_s: float) -> IncidentContext:
        anoms = [
            anomaly("SERVICE", "frontend", "LatencyP50(s)", score=12.0, at_s=30,
                    actual=1.2, expected=0.2, service="frontend"),
            anomaly("SERVICE", "shipping", "LatencyP99(s)", score=40.0, actual=0.005 +
                    callee_delta_s, expected=0.005, service="shipping"),
            anomaly("POD", "frontend-1", "CpuUsageRate(%)", score=5.0, service="frontend"),
        ]
        return IncidentContext("inc", "c1", anoms, [DependencyEdge("frontend", "shipping")])

    assert top(ctx(0.003))["entity"] == "frontend-1"
    assert top(ctx(1.0))["entity"] == "shipping"


def test_common_endpoint_of_anomalous_edges_is_blamed() -> None:
    # Client-side edge latency on every edge touching "cart" and one of frontend's many.
    edges = [DependencyEdge("frontend", s) for s in ("cart", "ads", "catalog", "currency")]
    edges.append(DependencyEdge("checkout", "cart"))
    anoms = [anomaly("EDGE", f"{u}->cart", "edge_latency_p50", score=30.0, source=u,
                     target="cart", side="client") for u in ("frontend", "checkout")]
    ctx = IncidentContext("inc-net", "c1", anoms, edges)
    assert top(ctx)["entity"] == "cart"


def test_a_slow_edge_explains_its_callers_slowdown_measured_like_with_like() -> None:
    """Network delay on frontend -> cart: frontend's own latency is up (its histogram
    quantile, interpolated in a coarse bucket, says +850 ms; its span RED says +270 ms),
    the edge as frontend's client spans see it is +250 ms, cart's server side is quiet.
    The edge explains frontend's span-measured slowdown, so cart ranks first."""
    edges = [DependencyEdge("frontend", s) for s in ("cart", "ads", "catalog", "currency",
                                                     "shipping", "checkout")]
    edges += [DependencyEdge("checkout", "cart"), DependencyEdge("cart", "redis")]
    anoms = [
        anomaly("SERVICE", "frontend", "http_server_requests_seconds", score=1400.0, at_s=15,
                actual=0.895, expected=0.048, service="frontend"),
        anomaly("SERVICE", "frontend", "aiops_red_duration_p50_seconds", score=320.0, at_s=15,
                actual=0.280, expected=0.014, service="frontend"),
        anomaly("EDGE", "frontend->cart", "aiops_edge_duration_p95_seconds", score=60.0,
                at_s=15, actual=0.270, expected=0.020, source="frontend", target="cart"),
    ]
    ranked = rank(IncidentContext("inc-delay", "c1", anoms, edges))
    assert ranked[0]["entity"] == "cart"
    assert any("explains latency" in e["description"] for e in ranked[0]["evidence"])


def test_a_callers_error_logs_are_discounted_like_its_errors() -> None:
    """Lost calls frontend -> cart: frontend's error ratio is up and it logs "could not
    retrieve cart"; the edge's errors explain both, so cart ranks first."""
    edges = [DependencyEdge("frontend", s) for s in ("cart", "ads", "catalog", "currency")]
    anoms = [
        anomaly("SERVICE", "frontend", "aiops_red_error_ratio", score=70.0, at_s=15,
                service="frontend"),
        anomaly("EDGE", "frontend->cart", "aiops_edge_error_ratio", score=40.0, at_s=15,
                source="frontend", target="cart"),
    ]
    logs = [LogEvent("SERVICE", "frontend", "t1", "could not retrieve cart: <*>", count=13,
                     is_error=True, service="frontend")]
    ranked = rank(IncidentContext("inc-loss", "c1", anoms, edges, log_events=logs))
    assert ranked[0]["entity"] == "cart"


def test_a_callers_timeout_logs_are_discounted_like_its_latency() -> None:
    """Network delay on frontend -> cart: frontend is slower and logs "could not retrieve
    cart: DeadlineExceeded" (a timeout is latency seen as an error) while its error series
    stay quiet.  The slow edge explains frontend's latency, and so its timeout logs."""
    edges = [DependencyEdge("frontend", s) for s in ("cart", "ads", "catalog", "currency",
                                                     "shipping", "checkout")]
    anoms = [
        anomaly("SERVICE", "frontend", "aiops_red_duration_p50_seconds", score=320.0, at_s=15,
                actual=0.280, expected=0.014, service="frontend"),
        anomaly("EDGE", "frontend->cart", "aiops_edge_duration_p95_seconds", score=100.0,
                at_s=15, actual=0.270, expected=0.020, source="frontend", target="cart"),
    ]
    logs = [LogEvent("SERVICE", "frontend", "t1", "could not retrieve cart: <*>", count=30,
                     baseline_count=0, is_error=True, service="frontend")]
    ranked = rank(IncidentContext("inc-delay", "c1", anoms, edges, log_events=logs))
    assert ranked[0]["entity"] == "cart"
    quiet = rank(IncidentContext("inc-delay", "c1", anoms[:1], edges, log_events=logs))
    assert quiet[0]["entity"] == "frontend"  # nothing explains it: its logs count in full


def _lossy_cart(node_services: dict[str, list[str]], also_failing: str = "",
                also: str = "aiops_edge_error_ratio") -> list[dict]:
    """Packet loss on the calls into cart: its node's TCP retransmissions soar."""
    edges = [DependencyEdge("frontend", s) for s in ("cart", "catalog", "currency")]
    anoms = [
        anomaly("NODE", "worker-1", "node_netstat_Tcp_RetransSegs", score=60_000.0, at_s=15,
                node="worker-1"),
        anomaly("SERVICE", "frontend", "aiops_red_error_ratio", score=70.0, at_s=15,
                service="frontend"),
        anomaly("EDGE", "frontend->cart", "aiops_edge_error_ratio", score=40.0, at_s=15,
                source="frontend", target="cart"),
    ]
    if also_failing:
        anoms.append(anomaly("EDGE", f"frontend->{also_failing}", also, score=40.0, at_s=15,
                             source="frontend", target=also_failing))
    return rank(IncidentContext("inc-loss", "c1", anoms, edges, node_services=node_services))


def test_a_nodes_network_signal_confined_to_one_service_is_that_services() -> None:
    """Of the services serving on worker-1 only cart's calls fail: the retransmissions are
    cart's network path, so cart ranks first.  Without placement, or when the calls into
    another service on the node fail too (a bad NIC), the node does; a merely slower call
    into another service does not count against failing calls."""
    both = {"worker-1": ["cart", "catalog"]}
    ranked = _lossy_cart(both)
    assert ranked[0]["entity"] == "cart"
    assert any("confined to the calls into cart" in e["description"]
               for e in ranked[0]["evidence"])
    assert _lossy_cart({})[0]["entity"] == "worker-1"
    assert _lossy_cart({"worker-1": ["cart"]})[0]["entity"] == "worker-1"
    assert _lossy_cart(both, also_failing="catalog")[0]["entity"] == "worker-1"
    slower = _lossy_cart(both, "catalog", also="aiops_edge_duration_p95_seconds")
    assert slower[0]["entity"] == "cart"


def test_a_service_log_event_counts_once() -> None:
    """A service's own log stream (entity SERVICE, service the same) is one piece of
    evidence, not two."""
    logs = [LogEvent("SERVICE", "a", "t1", "boom <*>", count=10, is_error=True, service="a")]
    ranked = rank(IncidentContext("inc", "c1", [], log_events=logs))
    assert [e["kind"] for e in ranked[0]["evidence"]] == ["LOG_TEMPLATE"]
    alone = rank(IncidentContext("inc", "c1", [], log_events=[
        LogEvent("SERVICE", "a", "t1", "boom <*>", count=10, is_error=True)]))
    assert ranked[0]["score"] == alone[0]["score"]


# -- logs, traces, determinism, evidence, schema ------------------------------------------
def test_novel_error_log_template_tips_the_balance() -> None:
    anoms = [anomaly("SERVICE", s, "http_server_latency_p99", score=10.0, service=s)
             for s in ("a", "b")]
    logs = [LogEvent("SERVICE", "b", "t42", "connection refused to <*>", count=50,
                     is_error=True)]
    assert top(IncidentContext("inc", "c1", anoms, log_events=logs))["entity"] == "b"
    logs[0:1] = [LogEvent("SERVICE", "a", "t42", "connection refused to <*>", count=50,
                          is_error=True)]
    assert top(IncidentContext("inc", "c1", anoms, log_events=logs))["entity"] == "a"


def big_incident() -> IncidentContext:
    rng = random.Random(7)
    services = [f"svc{i}" for i in range(12)]
    anoms = []
    for i in range(200):
        s = rng.choice(services)
        kind = rng.choice(["cpu_usage", "latency_p99", "error_ratio", "memory_rss"])
        anoms.append(anomaly("POD", f"ns/{s}-0", kind, score=rng.uniform(3, 40),
                             at_s=rng.randint(0, 300), pod=f"{s}-0", service=s))
        anoms[-1]["anomaly_id"] = f"a{i}"
    edges = [DependencyEdge(services[i], services[j]) for i in range(12)
             for j in range(i + 1, 12) if (i * 7 + j) % 3 == 0]
    traces = [TraceEvidence(f"t{i}", services[i % 12], "op", 100.0 + i, T0, error=i % 2 == 0)
              for i in range(30)]
    return IncidentContext("inc-big", "c1", anoms, edges, traces=traces)


def test_same_input_same_ranking() -> None:
    ctx = big_incident()
    first = rank(ctx)
    shuffled = list(ctx.anomalies)
    random.Random(1).shuffle(shuffled)
    again = rank(IncidentContext(ctx.incident_id, ctx.cluster, shuffled,
                                 list(reversed(ctx.edges)), traces=ctx.traces))
    assert first == again
    assert [c["rank"] for c in first] == list(range(1, len(first) + 1))
    assert all(a["score"] >= b["score"] for a, b in zip(first, first[1:], strict=False))


def test_every_cause_has_evidence_and_the_report_encodes() -> None:
    causes = rank(big_incident())
    assert causes
    for c in causes:
        assert c["evidence"], c
        assert {e["kind"] for e in c["evidence"]} <= {
            "SERIES", "ANOMALY", "LOG_TEMPLATE", "TRACE", "ALERT", "RULE", "TOPOLOGY"}
    assert any(e["kind"] == "TRACE" for c in causes for e in c["evidence"])
    report = {
        "report_id": "inc-big:1", "incident_id": "inc-big", "cluster": "c1",
        "created_ts": T0, "causes": causes,
        "explanation": {"summary": "", "probable_cause": "", "impact": "", "remediation": []},
        "provider": "template", "model": None, "persona": "sre", "tokens_in": 0,
        "tokens_out": 0, "latency_ms": 1.0,
    }
    codec = Codec("rca_report")
    assert codec.decode(codec.encode(report))["causes"] == causes


def test_anomaly_without_required_keys_is_rejected() -> None:
    with pytest.raises(ValueError, match="lacks"):
        IncidentContext("inc", "c1", [{"entity": "x"}])


def test_empty_incident_ranks_nothing() -> None:
    assert rank(IncidentContext("inc", "c1", [])) == []


def test_switching_the_rules_off_changes_the_answer() -> None:
    # The weights are what the tests above exercise: with them at zero the answer flips.
    no_graph = RankingConfig(explained_discount=0.0, explain_credit=0.0)
    assert top_with(chain(with_edges=True), no_graph)["entity"] == "frontend"
    assert top_with(xid_incident(), RankingConfig(pattern_weight=0.0))["entity_type"] != "GPU"


def top_with(ctx: IncidentContext, cfg: RankingConfig) -> dict:
    return rank(ctx, cfg)[0]
