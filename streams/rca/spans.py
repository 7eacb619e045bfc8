"""Trace RED from raw spans: per-service and per-edge rate, errors and latency per bucket.

Server work of a service is its spans whose parent is in another service (or none); an
edge ``caller -> callee`` is a span whose parent span belongs to another service, the
parent being the caller's client span.  Self time of a span is its duration minus its
children's, so a slow service shows up even when every callee is fast; it is taken over
the spans that do not call out (a client span's own time is the network gap of its edge,
reported per edge as ``EdgeNetworkGapMean``).  ``EdgeCallsPerRequest`` is an edge's calls
over its caller's entry spans in the bucket: it changes when the caller's own code path
changes (an exception or an early return skips a call), whatever the load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: RED series names, chosen so :func:`streams.rca.evidence.signal_of` classifies them.
SERVICE_SERIES = ("SpanRate(calls)", "SpanLatencyP90(ms)", "SpanSelfLatencyMean(ms)",
                  "SpanErrorRatio")
EDGE_SERIES = ("EdgeCallRate(calls)", "EdgeClientLatencyP90(ms)", "EdgeErrorRatio",
               "EdgeNetworkGapMean(ms)", "EdgeCallsPerRequest")


@dataclass
class SpanTable:
    """Columnar spans (as in the SpanBatch schema); ``service`` is per span."""

    span_id: np.ndarray
    parent_id: np.ndarray
    service: np.ndarray
    start_ns: np.ndarray
    duration_ns: np.ndarray
    error: np.ndarray
    trace_id: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.span_id)

    def parents(self) -> np.ndarray:
        """Index of each span's parent in the table, -1 when absent."""
        index = {s: i for i, s in enumerate(self.span_id.tolist())}
        return np.fromiter((index.get(p, -1) for p in self.parent_id.tolist()),
                           dtype=np.int64, count=len(self))


@dataclass
class RedSeries:
    """Per-bucket RED values: ``values[(entity, name)]`` over ``bucket_start_ns``."""

    bucket_start_ns: np.ndarray
    values: dict[tuple[str, str], np.ndarray]
    edges: list[tuple[str, str]]


def _grouped(keys: np.ndarray, buckets: np.ndarray, x: np.ndarray, n_buckets: int,
             fn: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if len(x) == 0:
        return out
    order = np.lexsort((buckets, keys))
    k, b, v = keys[order], buckets[order], x[order]
    cut = np.flatnonzero((k[1:] != k[:-1]) | (b[1:] != b[:-1])) + 1
    for lo, hi in zip(np.r_[0, cut], np.r_[cut, len(k)], strict=True):
        arr = out.setdefault(str(k[lo]), np.full(n_buckets, np.nan))
        seg = v[lo:hi]
        arr[b[lo]] = (float(np.percentile(seg, 90)) if fn == "p90" else
                      float(seg.mean()) if fn == "mean" else float(len(seg)))
    return out


def red(table: SpanTable, start_ns: int, end_ns: int, bucket_ns: int) -> RedSeries:
    """RED series over ``[start_ns, end_ns)`` in buckets of ``bucket_ns`` by span start."""
    n_b = max(1, int(np.ceil((end_ns - start_ns) / bucket_ns)))
    par = table.parents()
    svc = table.service.astype(str)
    psvc = np.where(par >= 0, svc[np.maximum(par, 0)], "")
    dur = table.duration_ns.astype(np.float64)
    child_sum = np.zeros(len(table))
    has_par = par >= 0
    np.add.at(child_sum, par[has_par], dur[has_par])
    self_ms = np.maximum(dur - child_sum, 0.0) / 1e6
    bucket = ((table.start_ns - start_ns) // bucket_ns).astype(np.int64)
    keep = (bucket >= 0) & (bucket < n_b)
    entry = keep & (psvc != svc)
    calls_out = np.zeros(len(table), dtype=bool)
    calls_out[par[entry & has_par]] = True
    local = keep & ~calls_out
    err = table.error.astype(np.float64)
    values: dict[tuple[str, str], np.ndarray] = {}

    def put(name: str, groups: dict[str, np.ndarray]) -> None:
        for key, arr in groups.items():
            values[(key, name)] = arr

    s_rate, s_p90, s_self, s_err = SERVICE_SERIES
    counts = _grouped(svc[entry], bucket[entry], dur[entry], n_b, "count")
    put(s_rate, {k: np.nan_to_num(v) for k, v in counts.items()})
    put(s_p90, _grouped(svc[entry], bucket[entry], dur[entry] / 1e6, n_b, "p90"))
    put(s_self, _grouped(svc[local], bucket[local], self_ms[local], n_b, "mean"))
    put(s_err, _grouped(svc[entry], bucket[entry], err[entry], n_b, "mean"))
    call = entry & has_par
    ekey = np.char.add(np.char.add(psvc[call].astype(str), "->"), svc[call])
    e_rate, e_lat, e_err, e_gap, _ = EDGE_SERIES
    ecounts = _grouped(ekey, bucket[call], dur[call], n_b, "count")
    put(e_rate, {k: np.nan_to_num(v) for k, v in ecounts.items()})
    put(e_lat, _grouped(ekey, bucket[call], dur[par[call]] / 1e6, n_b, "p90"))
    put(e_err, _grouped(ekey, bucket[call], err[call], n_b, "mean"))
    gap_ms = np.maximum(dur[par[call]] - dur[call], 0.0) / 1e6
    put(e_gap, _grouped(ekey, bucket[call], gap_ms, n_b, "mean"))
    # Calls per request: edge calls over the caller's entry spans of the bucket (a caller
    # whose code path changes, e.g. an exception or early return, calls less per request).
    # A bucket where the caller served requests but made no call is 0, not missing.
    for caller, callee in sorted({tuple(k.split("->", 1)) for k in ecounts}):
        served = counts.get(caller)
        if served is None:
            continue
        made = np.nan_to_num(ecounts[f"{caller}->{callee}"])
        with np.errstate(invalid="ignore", divide="ignore"):
            values[(f"{caller}->{callee}", EDGE_SERIES[4])] = np.where(
                served > 0, made / np.where(served > 0, served, 1.0), np.nan)
    # A bucket without any span is missing data (an export gap), not zero traffic.
    empty = np.bincount(bucket[keep], minlength=n_b) == 0
    for arr in values.values():
        arr[empty] = np.nan
    edges = sorted({tuple(k.split("->", 1)) for k in ecounts})  # type: ignore[misc]
    starts = start_ns + bucket_ns * np.arange(n_b, dtype=np.int64)
    return RedSeries(starts, values, edges)  # type: ignore[arg-type]
