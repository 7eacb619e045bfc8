"""Trace RED from hand-made spans: edges, rates, latency and self time."""

from __future__ import annotations

import numpy as np

from streams.rca.spans import SpanTable, red

S = 1_000_000_000


def table() -> SpanTable:
    # frontend entry span (100 ms) -> its client span (80 ms) -> cart server span (70 ms),
    # once in each of two 10 s buckets; the second cart span is slower.
    rows = [
        ("f1", "root", "frontend", 0, 100), ("c1", "f1", "frontend", 0, 80),
        ("k1", "c1", "cart", 0, 70),
        ("f2", "root", "frontend", 10, 300), ("c2", "f2", "frontend", 10, 280),
        ("k2", "c2", "cart", 10, 270),
    ]
    ids, parents, svcs, starts, durs = zip(*rows, strict=True)
    return SpanTable(np.array(ids, object), np.array(parents, object), np.array(svcs, object),
                     np.array(starts, np.int64) * S, np.array(durs, np.int64) * 1_000_000,
                     np.array([False, False, False, False, False, True]))


def test_red_per_service_and_edge() -> None:
    r = red(table(), 0, 20 * S, 10 * S)
    assert r.edges == [("frontend", "cart")]
    assert r.values[("frontend", "SpanRate(calls)")].tolist() == [1.0, 1.0]
    assert r.values[("cart", "SpanLatencyP90(ms)")].tolist() == [70.0, 270.0]
    assert r.values[("frontend->cart", "EdgeClientLatencyP90(ms)")].tolist() == [80.0, 280.0]
    assert r.values[("frontend->cart", "EdgeErrorRatio")].tolist() == [0.0, 1.0]
    # Self time: the frontend entry span keeps 20 ms; its client span's own 10 ms is the
    # edge's network gap, not frontend work.  Cart keeps all of its own.
    assert r.values[("frontend", "SpanSelfLatencyMean(ms)")].tolist() == [20.0, 20.0]
    assert r.values[("frontend->cart", "EdgeNetworkGapMean(ms)")].tolist() == [10.0, 10.0]
    assert r.values[("cart", "SpanSelfLatencyMean(ms)")].tolist() == [70.0, 270.0]


def test_bucket_without_spans_is_missing_not_zero() -> None:
    r = red(table(), 0, 30 * S, 10 * S)
    rate = r.values[("frontend", "SpanRate(calls)")]
    assert rate[:2].tolist() == [1.0, 1.0] and np.isnan(rate[2])
