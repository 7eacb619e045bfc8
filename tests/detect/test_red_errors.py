"""Span RED error ratios through the metric stage: count-aware evidence and EDGE anomalies.

Spans go through :class:`TraceStage` (windows -> RED/edge MetricBatch records), the records
through :class:`MetricStage` exactly as the worker chains them over ``aiops.metrics``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from schemas.codec import Codec
from streams.correlate.members import from_anomaly
from streams.detect.metric_stage import (
    EVENT_RATE,
    RATIO_RANGE,
    MetricStage,
    StageConfig,
    kind_of,
)
from streams.detect.traces import RedAggregator, TraceStage, error_ratio
from streams.detectors import MetricDetector
from streams.rca.candidates import edge_endpoints, entities_of

S = 1_000_000_000
WINDOW_S = 15
SPAN = Codec("span_batch")
METRICS = Codec("metric_batch")


def _window(w: int, n: int, errors: int, rng: np.random.Generator, lost: int = 0,
            delay_s: float = 0.0, peer: bool = False, only: str = "") -> bytes:
    """``n`` requests web/front -> shop/cart in window ``w``; the first ``errors`` fail in
    cart (and so in front); the first ``lost`` calls fail on the way (front's CLIENT span
    only), every call takes ``delay_s`` longer on the network.  ``peer``: the CLIENT span
    names its peer (``server.address``); ``only``: just that service's spans (a partition
    of ``aiops.spans`` keyed by cluster/service)."""
    rec: dict[str, list[Any]] = {k: [] for k in (
        "trace_ids", "span_ids", "parent_span_ids", "services", "operations", "kinds",
        "start_ns", "duration_ns", "status_codes", "status_messages", "attributes",
        "resources")}
    for i in range(n):
        t = (w * WINDOW_S) * S + i * (WINDOW_S * S // (n + 1))
        root, client, server = f"r{w}-{i}", f"c{w}-{i}", f"s{w}-{i}"
        for sid, parent, svc, ns, op, kind, dur in (
                (root, "", "front", "web", "GET /", "SERVER", 0.030),
                (client, root, "front", "web", "call cart", "CLIENT", 0.020 + delay_s),
                (server, client, "cart", "shop", "get", "SERVER", 0.010)):
            if only and svc != only:
                continue
            rec["trace_ids"].append(f"{w:016x}{i:016x}")
            rec["span_ids"].append(sid)
            rec["parent_span_ids"].append(parent)
            rec["services"].append(svc)
            rec["operations"].append(op)
            rec["kinds"].append(kind)
            rec["start_ns"].append(t)
            rec["duration_ns"].append(int(dur * S * float(rng.uniform(0.9, 1.1))))
            failed = i < errors or (kind == "CLIENT" and i < lost)
            rec["status_codes"].append("ERROR" if failed else "OK")
            rec["status_messages"].append("")
            rec["attributes"].append({"server.address": "cart.shop.svc.cluster.local"}
                                     if peer and kind == "CLIENT" else {})
            rec["resources"].append({"k8s.namespace.name": ns})
    return SPAN.encode({"batch_id": f"b{w}", "cluster": "c1", "source": "test",
                        "received_ts": w * WINDOW_S * 1000, **rec})


class Pipeline:
    """Trace stage -> RED MetricBatch records -> metric stage, one window at a time."""

    def __init__(self) -> None:
        self.traces = TraceStage(window_ms=WINDOW_S * 1000, lateness_ms=0)
        self.metrics = MetricStage(StageConfig(warmup=30, cooldown_ms=60_000), capacity=64)
        self.rng = np.random.default_rng(7)

    def window(self, w: int, n: int, errors: int = 0) -> list[dict[str, Any]]:
        """Feed window ``w``; return the metric anomalies of the windows it closed."""
        res = self.traces.process([_window(w, n, errors, self.rng)])
        payloads = [METRICS.encode(b) for b in res.metric_batches]
        return self.metrics.process(payloads).anomalies if payloads else []


def _errors(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in found if a["name"].endswith("_error_ratio")]


def _clean_history(p: Pipeline, windows: int, n: int = 5) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for w in range(windows):
        out += p.window(w, n)
    return out


def test_error_ratio_is_a_count_aware_bound() -> None:
    assert error_ratio(0, 5) == 0.0 and error_ratio(3, 0) == 0.0
    # One failure in a handful of spans is weak evidence; a burst over dozens is not.
    assert error_ratio(1, 5) < 0.05 < 0.15 < error_ratio(12, 40) < 0.3
    # With many requests the bound tends to the plain ratio, and never exceeds it.
    assert 0.29 < error_ratio(3000, 10_000) < 0.3
    assert error_ratio(5, 5) < 1.0 and error_ratio(1, 1) > 0.0


def test_ratio_series_get_the_range_floor_others_do_not() -> None:
    assert kind_of("aiops_red_error_ratio", 0) != kind_of("aiops_red_requests_per_second", 0)
    det = MetricDetector(2, warmup=10)
    for _ in range(50):
        det.update_z(np.zeros(2))
    # The same small move of a series flat at 0: proportional to the move (in cells of 5 %
    # of the floor) with the floor; without it, the series' level is all the detector has
    # for a scale, and any move away from 0 is a change of state (z 160, whatever its size).
    z = det.update_z(np.array([0.1, 0.1]), range_floor=np.array([RATIO_RANGE, 0.0]))
    assert 3.0 < z[0] < 5.0 and 100.0 < z[1] < 1e3


def test_one_error_in_a_few_spans_of_a_clean_service_is_no_anomaly() -> None:
    p = Pipeline()
    assert _errors(_clean_history(p, 60)) == []
    found = []
    for w in range(60, 120):  # a stray failure every 4th window, 5 requests each
        found += p.window(w, 5, errors=int(w % 4 == 0))
    assert _errors(found) == []


def test_a_real_error_burst_is_a_strong_anomaly() -> None:
    p = Pipeline()
    _clean_history(p, 60, n=40)
    found = p.window(60, 40, errors=12) + p.window(61, 40, errors=12)
    red = [a for a in _errors(found) if a["name"] == "aiops_red_error_ratio"
           and a["entity"] == "shop/cart"]
    assert len(red) == 1
    a = red[0]
    assert a["entity_type"] == "SERVICE" and a["type"] == "SPIKE"
    assert a["score"] >= 2 * StageConfig().z_on and a["severity"] in ("MEDIUM", "HIGH")
    assert a["score"] < 1e3  # proportional to the move, not a saturated novelty
    assert abs(a["actual"] - error_ratio(12, 40)) < 1e-9


def test_edge_anomalies_are_typed_edge_with_their_endpoints() -> None:
    p = Pipeline()
    _clean_history(p, 60, n=40)
    found = p.window(60, 40, errors=20) + p.window(61, 40, errors=20)
    edge = [a for a in found if a["name"].startswith("aiops_edge_")]
    assert edge, "the failing calls front -> cart are an edge anomaly"
    for a in edge:
        assert (a["entity_type"], a["entity"]) == ("EDGE", "web/front->shop/cart")
        assert (a["labels"]["source"], a["labels"]["target"]) == ("web/front", "shop/cart")
        # The RCA reads it as evidence about the call (its endpoints), not a candidate.
        assert entities_of(a) == []
        assert edge_endpoints(a) == ("web/front", "shop/cart")
        # The correlator links it to both services.
        assert from_anomaly(a).keys["service"] == ["shop/cart", "web/front"]
    # The services' own RED series stay SERVICE anomalies.
    red = {(a["entity_type"], a["entity"]) for a in found if a["name"].startswith("aiops_red_")}
    assert ("SERVICE", "shop/cart") in red


def test_edges_measure_the_call_as_the_caller_sees_it() -> None:
    """Network delay and lost calls show in the caller's CLIENT span only: the edge series
    carry them, the callee's own RED series do not."""
    red = RedAggregator(window_ms=WINDOW_S * 1000, lateness_ms=0)
    red.add(SPAN.decode(_window(0, 40, 0, np.random.default_rng(1), lost=20, delay_s=0.3)))
    red.add(SPAN.decode(_window(2, 1, 0, np.random.default_rng(1))))
    batch = red.close()[0]
    got = {(n, lb.get("caller"), lb.get("service")): v
           for n, lb, v in zip(batch["names"], batch["labels"], batch["values"], strict=True)}
    assert got[("aiops_edge_error_ratio", "front", "cart")] == error_ratio(20, 40)
    assert got[("aiops_edge_duration_p95_seconds", "front", "cart")] > 0.3
    assert got[("aiops_red_error_ratio", None, "cart")] == 0.0
    assert got[("aiops_red_duration_p95_seconds", None, "cart")] < 0.02


def _edges(batch: dict[str, Any]) -> dict[tuple[str, str, str], float]:
    return {(n, lb["caller"], lb["callee"]): v for n, lb, v in zip(
        batch["names"], batch["labels"], batch["values"], strict=True) if "caller" in lb}


def test_a_caller_naming_its_peer_measures_the_edge_on_its_own_partition() -> None:
    rng = np.random.default_rng(3)
    caller_side = RedAggregator(window_ms=WINDOW_S * 1000, lateness_ms=0)
    callee_side = RedAggregator(window_ms=WINDOW_S * 1000, lateness_ms=0)
    for w in (0, 2):
        caller_side.add(SPAN.decode(_window(w, 30, 0, rng, lost=6, peer=True, only="front")))
        callee_side.add(SPAN.decode(_window(w, 30, 0, rng, lost=6, peer=True, only="cart")))
    edges = _edges(caller_side.close()[0])
    assert edges[("aiops_edge_calls_per_second", "front", "cart")] == 30 / WINDOW_S
    assert edges[("aiops_edge_error_ratio", "front", "cart")] == error_ratio(6, 30)
    assert _edges(callee_side.close()[0]) == {}  # the callee alone cannot tell who called
    # Both sides on one partition: each call counts once.
    both = RedAggregator(window_ms=WINDOW_S * 1000, lateness_ms=0)
    both.add(SPAN.decode(_window(0, 30, 0, rng, peer=True)))
    both.add(SPAN.decode(_window(2, 1, 0, rng, peer=True)))
    assert _edges(both.close()[0])[("aiops_edge_calls_per_second", "front", "cart")] == 2.0


def test_the_service_model_sees_an_error_ratio_change_alone() -> None:
    """Rate and latency unchanged, every request failing: the per-service HalfSpaceTrees
    alerts (with raw feature limits it split almost only on requests/s and scored ~0.09)."""
    p = Pipeline()
    for w in range(80):
        assert [a for a in p.traces.process([_window(w, 40, 0, p.rng)]).anomalies
                if a["entity"] == "shop/cart"] == []
    found = []
    for w in (80, 81):
        found += p.traces.process([_window(w, 40, 40, p.rng)]).anomalies
    cart = [a for a in found if a["entity"] == "shop/cart"]
    assert [(a["name"], a["detector"], a["entity_type"]) for a in cart] == [
        ("service_red", "hst:service", "SERVICE")]
    assert cart[0]["score"] >= p.traces.models.threshold
    assert float(cart[0]["labels"]["error_ratio"]) > 0.9


def test_event_rates_from_few_spans_are_count_aware() -> None:
    """A sampled edge with 1 call per window: 2 calls is Poisson noise (it scored z ~50
    with a level-relative range only); 8 calls is not.  Busy series keep their range."""
    assert kind_of("aiops_edge_calls_per_second", 0) & EVENT_RATE
    assert not kind_of("aiops_edge_error_ratio", 0) & EVENT_RATE

    def run(counts: list[int]) -> list[dict[str, Any]]:
        p = Pipeline()
        found: list[dict[str, Any]] = []
        for w, n in enumerate([1] * 60 + counts + [1, 1]):
            found += p.window(w, n)
        return [a for a in found if a["name"].endswith("_per_second")]

    assert run([2]) == []
    assert run([2, 1, 2, 2, 1]) == []
    rises = run([8])
    assert {a["name"] for a in rises} == {"aiops_edge_calls_per_second",
                                          "aiops_red_requests_per_second"}
    assert all(a["score"] < 1e3 for a in rises)


def test_busy_event_rates_keep_their_level_relative_range() -> None:
    p = Pipeline()
    found = []
    for w, n in enumerate([200] * 60 + [400, 200]):
        found += p.window(w, n)
    assert any(a["name"] == "aiops_edge_calls_per_second" for a in found)
