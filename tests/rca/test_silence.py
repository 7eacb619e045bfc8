"""Evidence of silence and of changed control flow: series that stop, a dark cluster,
edges a caller no longer calls, calls per request."""

from __future__ import annotations

import numpy as np

from streams.evaluation.incident_window import (
    HarnessConfig,
    SeriesInfo,
    absence_anomaly,
    silence_anomalies,
)
from streams.rca import DependencyEdge, IncidentContext, rank
from streams.rca.evidence import Signal, signal_of
from streams.rca.spans import SpanTable, red
from tests.rca.incidents import T0, anomaly

CFG = HarnessConfig(after_ms=180_000, baseline_ms=1_800_000)
TS = T0 + 60_000 * np.arange(-30, 4, dtype=np.int64)


def frame() -> tuple[list[SeriesInfo], np.ndarray]:
    edge = {"source": "checkout", "target": "payment", "side": "client"}
    infos = [
        SeriesInfo("EdgeLatencyP50(s)", "EDGE", "checkout->payment", edge),
        SeriesInfo("PodServerLatencyP90(s)", "POD", "payment-1", {"service": "payment"}),
        SeriesInfo("CpuUsageRate(%)", "POD", "payment-1", {"service": "payment"}),
        SeriesInfo("CpuUsageRate(%)", "POD", "email-1", {"service": "email"}),
        SeriesInfo("MemoryUsage(Mi)", "POD", "email-1", {"service": "email"}),
    ]
    values = np.random.default_rng(3).normal(10.0, 1.0, (len(TS), len(infos)))
    after = TS > T0  # the first sample after T0 still covers time before it
    values[after, 0] = np.nan   # the edge is no longer called
    values[after, 1] = np.nan   # so the callee has no latency to report, but is alive
    values[after, 3:] = np.nan  # email reports nothing at all any more
    return infos, values


def test_silent_edges_and_dark_entities_are_evidence_live_pods_are_not() -> None:
    infos, values = frame()
    found = silence_anomalies(TS, infos, values, T0, CFG, "c1")
    assert sorted((a["entity"], a["name"]) for a in found) == [
        ("checkout->payment", "EdgeLatencyP50(s)"),
        ("email-1", "CpuUsageRate(%)"), ("email-1", "MemoryUsage(Mi)")]
    assert all(signal_of(a) is Signal.SILENCE and a["score"] >= 3.0 for a in found)


def test_series_often_missing_in_the_baseline_is_not_silence() -> None:
    infos, values = frame()
    values[::2, 0] = np.nan  # the edge was called in only half of the minutes
    found = silence_anomalies(TS, infos, values, T0, CFG, "c1")
    assert "checkout->payment" not in {a["entity"] for a in found}


def test_dark_cluster_evidence_grows_with_the_series_that_stopped() -> None:
    def score(n_series: int) -> float:
        values = np.ones((len(TS), n_series))
        values[TS >= T0] = np.nan
        return absence_anomaly(TS, values, T0, CFG, "c1")[0]["score"]

    assert score(100) > score(10) > 3.0
    assert absence_anomaly(TS, np.ones((len(TS), 10)), T0, CFG, "c1") == []


def test_a_silent_edge_blames_the_caller_and_explains_its_callers_errors() -> None:
    silent = anomaly("EDGE", "checkout->payment", "EdgeLatencyP50(s)", score=4.0,
                     source="checkout", target="payment", side="server")
    silent["detector"] = "absence"
    errors = anomaly("SERVICE", "frontend", "FrontendSuccessRate(%)", score=6.0, at_s=30,
                     service="frontend")
    edges = [DependencyEdge("frontend", "checkout"), DependencyEdge("checkout", "payment")]
    ranked = rank(IncidentContext("i", "c1", [silent, errors], edges))
    assert ranked[0]["entity"] == "checkout", ranked[:3]
    assert "payment" not in [c["entity"] for c in ranked[:2]]


def test_calls_per_request_falls_when_the_caller_skips_a_call() -> None:
    s = 1_000_000_000
    rows = []
    for b in range(2):  # two 10 s buckets, two requests each
        for r in range(2):
            rid = f"f{b}{r}"
            rows.append((rid, "root", "frontend", b * 10))
            if b == 0 or r == 0:  # in the second bucket one request skips its call
                rows += [(f"c{b}{r}", rid, "frontend", b * 10), (f"k{b}{r}", f"c{b}{r}",
                                                                 "catalog", b * 10)]
    ids, parents, svcs, starts = zip(*rows, strict=True)
    table = SpanTable(np.array(ids, object), np.array(parents, object), np.array(svcs, object),
                      np.array(starts, np.int64) * s, np.full(len(ids), 5_000_000, np.int64),
                      np.zeros(len(ids), bool))
    r = red(table, 0, 20 * s, 10 * s)
    assert r.values[("frontend->catalog", "EdgeCallsPerRequest")].tolist() == [1.0, 0.5]
    assert signal_of({"name": "EdgeCallsPerRequest"}) is Signal.FLOW
