"""One OTLP metric -> Prometheus-style sample rows (names, ``le``/``quantile`` labels).

* gauge -> GAUGE; monotonic cumulative sum -> COUNTER named ``<name>_total``;
  non-monotonic or delta sum -> GAUGE (a delta is not a Prometheus counter);
* histogram -> ``_bucket`` (cumulative, ``le`` bounds, ``+Inf``), ``_sum``, ``_count``;
* exponential histogram -> the same, its buckets' upper bounds as ``le``;
* summary -> ``name{quantile=...}``, ``_sum``, ``_count``.

Names and label keys are sanitised to ``[a-zA-Z0-9_:]``; a point flagged
"no recorded value" becomes NaN (a missing reading, never 0).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    ExponentialHistogramDataPoint,
    Metric,
)

from connectors.receivers.otlp_values import any_value_text

_BAD_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_BAD_LABEL = re.compile(r"[^a-zA-Z0-9_]")
NO_RECORDED_VALUE = 1
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


@dataclass(frozen=True)
class Row:
    """One sample."""

    name: str
    labels: dict[str, str]
    value: float
    ts_ms: int
    type: str


def metric_name(name: str) -> str:
    """A valid Prometheus metric name."""
    clean = _BAD_NAME.sub("_", name) or "_"
    return f"_{clean}" if clean[0].isdigit() else clean


def label_name(name: str) -> str:
    """A valid Prometheus label name."""
    clean = _BAD_LABEL.sub("_", name) or "_"
    return f"_{clean}" if clean[0].isdigit() else clean


def format_bound(bound: float) -> str:
    """``le`` text as Prometheus writes it (``1``, ``0.5``, ``+Inf``)."""
    if math.isinf(bound):
        return "+Inf" if bound > 0 else "-Inf"
    return repr(float(bound)).removesuffix(".0")


def _labels(base: dict[str, str], attrs: Iterable[KeyValue]) -> dict[str, str]:
    labels = dict(base)
    for kv in attrs:
        labels[label_name(kv.key)] = any_value_text(kv.value)
    return labels


def _number(point) -> float:  # NumberDataPoint
    if point.flags & NO_RECORDED_VALUE:
        return math.nan
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else point.as_double


def metric_rows(metric: Metric, base: dict[str, str]) -> list[Row]:
    """Sample rows of one OTLP metric; ``base`` labels (job, instance) go on every row."""
    name = metric_name(metric.name)
    kind = metric.WhichOneof("data")
    rows: list[Row] = []
    if kind in ("gauge", "sum"):
        data = getattr(metric, kind)
        mtype = "GAUGE"
        if kind == "sum" and data.is_monotonic and data.aggregation_temporality == CUMULATIVE:
            mtype = "COUNTER"
            name = name if name.endswith("_total") else f"{name}_total"
        for p in data.data_points:
            rows.append(Row(name, _labels(base, p.attributes), _number(p),
                            p.time_unix_nano // 1_000_000, mtype))
    elif kind == "histogram":
        for p in metric.histogram.data_points:
            bounds = [*p.explicit_bounds, math.inf]
            rows += _histogram(name, _labels(base, p.attributes), p, zip(
                bounds, p.bucket_counts, strict=False))
    elif kind == "exponential_histogram":
        for p in metric.exponential_histogram.data_points:
            rows += _histogram(name, _labels(base, p.attributes), p, _exp_buckets(p))
    elif kind == "summary":
        for p in metric.summary.data_points:
            labels = _labels(base, p.attributes)
            ts = p.time_unix_nano // 1_000_000
            missing = bool(p.flags & NO_RECORDED_VALUE)
            for q in p.quantile_values:
                rows.append(Row(name, {**labels, "quantile": format_bound(q.quantile)},
                                math.nan if missing else q.value, ts, "SUMMARY"))
            rows.append(Row(f"{name}_sum", labels, math.nan if missing else p.sum, ts,
                            "SUMMARY"))
            rows.append(Row(f"{name}_count", labels, math.nan if missing else float(p.count),
                            ts, "SUMMARY"))
    return rows


def _histogram(name: str, labels: dict[str, str], point,
               buckets: Iterable[tuple[float, int]]) -> list[Row]:
    ts = point.time_unix_nano // 1_000_000
    missing = bool(point.flags & NO_RECORDED_VALUE)
    rows: list[Row] = []
    cumulative = 0
    saw_inf = False
    for bound, count in buckets:
        cumulative += count
        saw_inf = saw_inf or math.isinf(bound)
        rows.append(Row(f"{name}_bucket", {**labels, "le": format_bound(bound)},
                        math.nan if missing else float(cumulative), ts, "HISTOGRAM"))
    if not saw_inf:
        rows.append(Row(f"{name}_bucket", {**labels, "le": "+Inf"},
                        math.nan if missing else float(point.count), ts, "HISTOGRAM"))
    total = point.sum if point.HasField("sum") else math.nan
    rows.append(Row(f"{name}_sum", labels, math.nan if missing else total, ts, "HISTOGRAM"))
    rows.append(Row(f"{name}_count", labels, math.nan if missing else float(point.count), ts,
                    "HISTOGRAM"))
    return rows


def _exp_buckets(p: ExponentialHistogramDataPoint) -> list[tuple[float, int]]:
    """(upper bound, count) in ascending order: negatives, the zero bucket, positives.

    Bucket ``i`` covers ``(base**i, base**(i+1)]`` with ``base = 2**(2**-scale)``.
    """
    step = 2.0 ** -p.scale  # exponent per bucket index: bound(i) = 2 ** (i * step)
    out: list[tuple[float, int]] = []
    neg = p.negative
    for i in reversed(range(len(neg.bucket_counts))):
        out.append((-(2.0 ** ((neg.offset + i) * step)), neg.bucket_counts[i]))
    out.append((p.zero_threshold, p.zero_count))
    pos = p.positive
    for i, count in enumerate(pos.bucket_counts):
        out.append((2.0 ** ((pos.offset + i + 1) * step), count))
    out.append((math.inf, 0))
    return out
