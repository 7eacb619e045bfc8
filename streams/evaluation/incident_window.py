"""Anomalies around an incident time from what a pipeline has: series and spans.

Shared by the evaluation harnesses (Nezha, simulator).  For an incident at ``t0``:

* metric anomalies: a streaming detector runs over every series (causal: a score at ``t``
  uses samples up to ``t``); alerts in ``[t0, t0 + after_ms]`` become ``Anomaly`` dicts
  whose expected value and band come from the ``baseline_ms`` before ``t0``.  The default
  gate is the z-score :class:`~streams.detectors.robust.RobustDetector` (``metric_detector``
  = ``"robust"``): RCA asks "how far from its recent level, in noise units", which a robust
  z answers; the hot-path :class:`~streams.detectors.metric.MetricDetector` (``"metric"``)
  counts novelty in steps of 5 % of a series' whole range, tuned for NAB, and misses a
  small but certain shift (a success rate from 100 % to 95 %) on a series that once
  swung widely;
* silence: series that stop reporting after ``t0`` (:func:`silence_anomalies`), and a
  CLUSTER anomaly when most of them stop at once (:func:`absence_anomaly`);
* trace anomalies: RED series per service and per edge (:mod:`streams.rca.spans`) in
  ``bucket_ms`` buckets, each fed through a :class:`~streams.detectors.robust.RobustDetector`;
  a series with fewer than ``trace_warmup`` baseline buckets yields nothing (no baseline,
  no verdict), and an alert needs ``min_alert_buckets`` alerting buckets after ``t0``.

An anomaly's score is its deviation from the baseline median in units of
``max(robust sigma, rel_floor * |median|)`` (quantised series have a tiny sigma); for a
percentage (name ending ``(%)``) the floor is ``pct_floor`` percentage points instead (it
is relative already: 10 % of a 100 % success rate would hide a 5-point drop); for span
counts at least ``sqrt(median + 1)`` (Poisson noise), for span error ratios at least their
binomial noise, for calls per request their Poisson noise; alerts scoring under
``min_score`` are dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from schemas.series import series_id
from streams.detectors.base import Sensitivity
from streams.detectors.metric import MetricDetector
from streams.detectors.robust import RobustDetector
from streams.rca.context import DependencyEdge, TraceEvidence
from streams.rca.spans import EDGE_SERIES, SERVICE_SERIES, SpanTable, red


@dataclass(frozen=True)
class HarnessConfig:
    """The harness's global parameters (the same for every case)."""

    after_ms: int = 180_000
    baseline_ms: int = 1_800_000
    metric_warmup: int = 10
    trace_baseline_ms: int = 90_000
    bucket_ms: int = 5_000
    trace_warmup: int = 6
    min_alert_buckets: int = 3
    sensitivity: Sensitivity = Sensitivity.MEDIUM
    rel_floor: float = 0.1
    #: Noise floor of a percentage series, in percentage points.
    pct_floor: float = 1.0
    #: Gate of metric anomalies: ``"robust"`` (RobustDetector z) or ``"metric"``
    #: (the hot-path novelty MetricDetector).
    metric_detector: str = "robust"
    #: RobustDetector's median/MAD step (its own default).
    robust_rate: float = 0.05
    min_score: float = 3.0
    max_score: float = 1000.0


@dataclass(frozen=True)
class SeriesInfo:
    """Identity of one series."""

    name: str
    entity_type: str
    entity: str
    labels: dict[str, str]


def detector_z(values: np.ndarray, cfg: HarnessConfig) -> np.ndarray:
    """Detector z of every sample of every series (rows = time; one causal pass)."""
    det: MetricDetector | RobustDetector
    if cfg.metric_detector == "robust":
        det = RobustDetector(values.shape[1], warmup=cfg.metric_warmup, rate=cfg.robust_rate,
                             sensitivity=cfg.sensitivity)
    else:
        det = MetricDetector(values.shape[1], warmup=cfg.metric_warmup,
                             sensitivity=cfg.sensitivity)
    out = np.zeros_like(values)
    for t in range(values.shape[0]):
        out[t] = det.update_z(values[t])
    return out


def window_anomaly(info: SeriesInfo, start_ts: int, sample_ts: int, actual: float,
                   base: np.ndarray, cfg: HarnessConfig, detector: str, sid: int,
                   cluster: str, floor: float = 0.0) -> dict[str, Any]:
    """An ``Anomaly`` dict scored against the baseline samples ``base``; ``floor`` is a
    lower bound on the noise scale known from the data (e.g. binomial noise of a ratio)."""
    base = base[np.isfinite(base)]
    expected = float(np.median(base)) if len(base) else 0.0
    spread = 1.4826 * float(np.median(np.abs(base - expected))) if len(base) else 0.0
    # A percentage is already relative: its floor is absolute (percentage points).
    rel = cfg.pct_floor if info.name.endswith("(%)") else cfg.rel_floor * abs(expected)
    scale = max(spread, rel, floor, 1e-9)
    if "(calls)" in info.name:
        scale = max(scale, float(np.sqrt(abs(expected) + 1.0)))
    z = min(abs(float(actual) - expected) / scale, cfg.max_score)
    aid = hashlib.blake2b("|".join(map(str, (detector, info.entity, info.name, start_ts,
                                             sorted(info.labels.items())))).encode(),
                          digest_size=8).hexdigest()
    return {
        "anomaly_id": aid, "cluster": cluster, "entity_type": info.entity_type,
        "entity": info.entity, "name": info.name, "labels": dict(info.labels),
        "series_id": sid, "type": "SPIKE" if actual >= expected else "DROP",
        "actual": float(actual), "expected": expected, "lower": expected - 3 * spread,
        "upper": expected + 3 * spread, "score": float(z),
        "confidence": float(z * z / (z * z + 6.25)), "severity": "HIGH" if z >= 5 else "MEDIUM",
        "detector": detector, "rule": None, "start_ts": int(start_ts),
        "sample_ts": int(sample_ts), "detected_ts": int(sample_ts),
    }


def metric_anomalies(ts_ms: np.ndarray, series: list[SeriesInfo], values: np.ndarray,
                     z: np.ndarray, t0: int, cfg: HarnessConfig,
                     cluster: str) -> list[dict[str, Any]]:
    """Alerts of the streaming detector in ``[t0, t0 + after_ms]`` as anomalies."""
    win = np.flatnonzero((ts_ms >= t0) & (ts_ms <= t0 + cfg.after_ms))
    base_rows = (ts_ms >= t0 - cfg.baseline_ms) & (ts_ms < t0)
    out = []
    zw = z[win]
    for j in np.flatnonzero((zw >= cfg.sensitivity.z).any(axis=0)):
        info = series[j]
        hits = win[zw[:, j] >= cfg.sensitivity.z]
        # The reported sample: the largest deviation from the baseline median from the
        # first alert on (a state that steps twice, e.g. LOCKED -> HOLDOVER -> FREERUN,
        # is reported at its worst).
        base = values[base_rows, j]
        med = float(np.nanmedian(base)) if np.isfinite(base).any() else 0.0
        span = win[win >= hits[0]]
        dev = np.abs(np.nan_to_num(values[span, j], nan=med) - med)
        peak = span[int(np.argmax(dev))]
        sid = series_id(cluster, info.name, info.labels)
        a = window_anomaly(info, int(ts_ms[hits[0]]), int(ts_ms[peak]), values[peak, j],
                           base, cfg, "metric", sid, cluster)
        if a["score"] >= cfg.min_score:
            out.append(a)
    return out


def absence_anomaly(ts_ms: np.ndarray, values: np.ndarray, t0: int, cfg: HarnessConfig,
                    cluster: str, max_present: float = 0.5) -> list[dict[str, Any]]:
    """A CLUSTER anomaly when most series fall silent after ``t0`` (the scraper went dark):
    the share of series with a sample drops under ``max_present`` in the window.

    Its score counts the series that fell silent against the Poisson noise of the
    baseline's silent count, ``(silent - median) / sqrt(median + 1)``: the evidence grows
    with every series that stopped, as a heartbeat check's would.
    """
    present = np.isfinite(values).mean(axis=1)
    silent = (~np.isfinite(values)).sum(axis=1).astype(np.float64)
    win = (ts_ms >= t0) & (ts_ms <= t0 + cfg.after_ms)
    base = (ts_ms >= t0 - cfg.baseline_ms) & (ts_ms < t0)
    if not win.any() or not base.any() or present[win].min() >= max_present:
        return []
    first = int(ts_ms[win][np.argmax(present[win] < max_present)])
    info = SeriesInfo("scrape_series_present_ratio", "CLUSTER", cluster, {"cluster": cluster})
    a = window_anomaly(info, first, first, float(present[win].min()), present[base], cfg,
                       "absence", 0, cluster)
    med = float(np.median(silent[base]))
    z = (float(silent[win].max()) - med) / float(np.sqrt(med + 1.0))
    a["score"] = float(min(z, cfg.max_score))
    a["confidence"] = float(z * z / (z * z + 6.25))
    a["severity"] = "HIGH"
    return [a]


def silence_anomalies(ts_ms: np.ndarray, series: list[SeriesInfo], values: np.ndarray, t0: int,
                      cfg: HarnessConfig, cluster: str) -> list[dict[str, Any]]:
    """Series that report through the baseline and stop after ``t0`` (an edge no longer
    called, an exporter gone): the last ``k >= 2`` samples of ``[t0, t0 + after_ms]`` are
    all missing (the first sample after ``t0`` may still cover time before the fault).

    The score is the chance of ``k`` missing samples in a row at the baseline's presence
    rate ``p = (present + 0.5) / (n + 1)``, ``(1 - p) ** k``, as a one-sided normal z.  A
    series already missing now and then in the baseline scores low.
    """
    win = np.flatnonzero((ts_ms >= t0) & (ts_ms <= t0 + cfg.after_ms))
    base = (ts_ms >= t0 - cfg.baseline_ms) & (ts_ms < t0)
    n = int(base.sum())
    if len(win) == 0 or n == 0:
        return []
    ok = np.isfinite(values)
    # Trailing missing samples of the window per series.
    seen_at = np.where(ok[win], np.arange(len(win))[:, None], -1).max(axis=0)
    trailing = len(win) - 1 - seen_at
    silent = (trailing >= 2) & ok[base].any(axis=0)
    # An entity that still reports other series is alive: its request-driven series (a
    # latency quantile with no request to measure) vanish because nobody calls it, which
    # the silent edges already say.  Only edges and wholly silent entities count.
    alive = {series[j].entity for j in np.flatnonzero(~silent & ok[win].any(axis=0))}
    out = []
    for j in np.flatnonzero(silent):
        if series[j].entity_type != "EDGE" and series[j].entity in alive:
            continue
        p = (float(ok[base, j].sum()) + 0.5) / (n + 1.0)
        k = int(trailing[j])
        chance = (1.0 - p) ** k
        z = min(NormalDist().inv_cdf(1.0 - max(chance, 1e-300)) if chance < 0.5 else 0.0,
                cfg.max_score)
        if z < cfg.min_score:
            continue
        info = series[j]
        base_v = values[base, j]
        expected = float(np.nanmedian(base_v))
        last = int(ts_ms[win[len(win) - k]])
        aid = hashlib.blake2b("|".join(map(str, ("absence", info.entity, info.name, last,
                                                 sorted(info.labels.items())))).encode(),
                              digest_size=8).hexdigest()
        out.append({
            "anomaly_id": aid, "cluster": cluster, "entity_type": info.entity_type,
            "entity": info.entity, "name": info.name, "labels": {**info.labels, "absent": "true"},
            "series_id": series_id(cluster, info.name, info.labels), "type": "DROP",
            "actual": 0.0, "expected": expected, "lower": expected, "upper": expected,
            "score": float(z), "confidence": float(z * z / (z * z + 6.25)),
            "severity": "HIGH" if z >= 5 else "MEDIUM", "detector": "absence", "rule": None,
            "start_ts": last, "sample_ts": last, "detected_ts": int(ts_ms[win[-1]]),
        })
    return out


def _trace_info(entity: str, name: str, labels: dict[str, str]) -> SeriesInfo:
    if name in EDGE_SERIES:
        src, dst = entity.split("->", 1)
        return SeriesInfo(name, "EDGE", entity, {"source": src, "target": dst, "side": "client"})
    return SeriesInfo(name, "SERVICE", entity, {"service": entity, **labels})


def trace_anomalies(spans: SpanTable, t0: int, start_ms: int, cfg: HarnessConfig, cluster: str
                    ) -> tuple[list[dict[str, Any]], list[DependencyEdge], list[TraceEvidence]]:
    """Trace RED anomalies after ``t0`` (baseline from ``start_ms``), observed edges and the
    slowest post-``t0`` span of each service with an anomaly."""
    if len(spans) == 0:
        return [], [], []
    end = t0 + cfg.after_ms
    series = red(spans, start_ms * 1_000_000, end * 1_000_000, cfg.bucket_ms * 1_000_000)
    keys = sorted(series.values)
    mat = np.stack([series.values[k] for k in keys], axis=1)
    bts = series.bucket_start_ns // 1_000_000
    det = RobustDetector(len(keys), warmup=cfg.trace_warmup, rate=0.1,
                         sensitivity=cfg.sensitivity)
    z = np.stack([det.update_z(row) for row in mat])
    pre = bts < t0
    n_base = np.isfinite(mat[pre]).sum(axis=0)
    post = np.flatnonzero(~pre)
    anomalies = []
    for j, (entity, name) in enumerate(keys):
        alert = post[z[post, j] >= cfg.sensitivity.z]
        if n_base[j] < cfg.trace_warmup or len(alert) < cfg.min_alert_buckets:
            continue
        peak = alert[int(np.argmax(z[alert, j]))]
        a = window_anomaly(_trace_info(entity, name, {}), int(bts[alert[0]]), int(bts[peak]),
                           float(np.median(mat[alert, j])), mat[pre, j], cfg, "trace_red", 0,
                           cluster, _ratio_floor(series.values, entity, name, pre))
        if a["score"] >= cfg.min_score:
            anomalies.append(a)
    edges = []
    for caller, callee in series.edges:
        rate = series.values.get((f"{caller}->{callee}", EDGE_SERIES[0]))
        lat = series.values.get((f"{caller}->{callee}", EDGE_SERIES[1]))
        ok_rate = rate is not None and np.isfinite(rate[~pre]).any()
        ok_lat = lat is not None and np.isfinite(lat[~pre]).any()
        edges.append(DependencyEdge(
            caller, callee,
            call_rate=float(np.nanmean(rate[~pre])) if ok_rate else 0.0,  # type: ignore[index]
            latency_p90_ms=float(np.nanmedian(lat[~pre])) if ok_lat else 0.0))  # type: ignore[index]
    return anomalies, edges, _exemplars(spans, t0, anomalies)


def _ratio_floor(values: dict[tuple[str, str], np.ndarray], entity: str, name: str,
                 pre: np.ndarray) -> float:
    """Binomial noise of an error ratio over a bucket's typical call count ``n``:
    ``sqrt(p (1 - p) / n)`` with ``p`` at least ``0.5 / n``; Poisson noise of calls per
    request ``r`` over ``n`` requests: ``sqrt(max(r, 1 / n) / n)``."""
    if name == EDGE_SERIES[4]:
        served = values.get((entity.split("->", 1)[0], SERVICE_SERIES[0]))
        ratio = values[(entity, name)][pre]
        if served is None or not np.isfinite(ratio).any():
            return 0.0
        n = max(float(np.nanmedian(served[pre])), 1.0)
        return float(np.sqrt(max(float(np.nanmedian(ratio)), 1.0 / n) / n))
    if not name.endswith("ErrorRatio"):
        return 0.0
    counts = values.get((entity, EDGE_SERIES[0] if "->" in entity else SERVICE_SERIES[0]))
    if counts is None or not np.isfinite(counts[pre]).any():
        return 0.0
    n = max(float(np.nanmedian(counts[pre])), 1.0)
    ratio = values[(entity, name)][pre]
    p = float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else 0.0
    p = min(max(p, 0.5 / n), 0.5)
    return float(np.sqrt(p * (1.0 - p) / n))


def _exemplars(spans: SpanTable, t0: int, anomalies: list[dict[str, Any]]) -> list[TraceEvidence]:
    out = []
    services = sorted({a["labels"]["service"] for a in anomalies if "service" in a["labels"]})
    after = spans.start_ns >= t0 * 1_000_000
    for svc in services:
        idx = np.flatnonzero(after & (spans.service == svc))
        if len(idx) == 0:
            continue
        errors = idx[spans.error[idx]]
        pick = errors if len(errors) else idx
        i = pick[int(np.argmax(spans.duration_ns[pick]))]
        tid = str(spans.trace_id[i]) if spans.trace_id is not None else ""
        out.append(TraceEvidence(tid, svc, "span", float(spans.duration_ns[i]) / 1e6,
                                 int(spans.start_ns[i] // 1_000_000), bool(spans.error[i])))
    return out
