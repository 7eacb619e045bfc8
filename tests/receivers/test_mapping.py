"""Pure mapping rules (no broker): OTLP metric shapes, levels, doctests."""

from __future__ import annotations

import doctest
import gzip
import importlib
import math

import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Metric,
    NumberDataPoint,
    Summary,
    SummaryDataPoint,
)

from connectors.receivers.base import PayloadError
from connectors.receivers.body import decompress
from connectors.receivers.otlp_metrics import metric_rows
from connectors.receivers.otlp_records import level_of, level_word


@pytest.mark.parametrize("name", [
    "connectors.receivers.body", "connectors.receivers.alertmanager",
    "connectors.receivers.otlp_values"])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0


def test_no_recorded_value_is_nan_and_names_are_sanitised():
    m = Metric(name="k8s.pod/cpu-usage", gauge=Gauge(data_points=[
        NumberDataPoint(as_int=3, time_unix_nano=2_000_000),
        NumberDataPoint(as_double=1.5, flags=1, time_unix_nano=2_000_000)]))
    rows = metric_rows(m, {"job": "j"})
    assert [r.name for r in rows] == ["k8s_pod_cpu_usage"] * 2
    assert rows[0].value == 3.0 and rows[0].ts_ms == 2 and math.isnan(rows[1].value)


def test_exponential_histogram_with_negative_buckets():
    p = ExponentialHistogramDataPoint(
        scale=1, count=6, sum=1.0, zero_count=1, time_unix_nano=0,
        positive=ExponentialHistogramDataPoint.Buckets(offset=0, bucket_counts=[2, 1]),
        negative=ExponentialHistogramDataPoint.Buckets(offset=0, bucket_counts=[1, 1]))
    rows = metric_rows(Metric(name="x", exponential_histogram=ExponentialHistogram(
        data_points=[p])), {})
    buckets = [(r.labels["le"], r.value) for r in rows if r.name == "x_bucket"]
    base = 2 ** 0.5
    assert [le for le, _ in buckets] == [
        repr(-base).removesuffix(".0"), "-1", "0", repr(base), "2", "+Inf"]
    assert [v for _, v in buckets] == [1.0, 2.0, 3.0, 5.0, 6.0, 6.0]
    assert [r.name for r in rows][-2:] == ["x_sum", "x_count"]


def test_summary_quantiles():
    p = SummaryDataPoint(count=10, sum=4.5, quantile_values=[
        SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=0.3),
        SummaryDataPoint.ValueAtQuantile(quantile=0.99, value=1.2)])
    rows = metric_rows(Metric(name="rpc", summary=Summary(data_points=[p])), {})
    assert [(r.name, r.labels.get("quantile"), r.value) for r in rows] == [
        ("rpc", "0.5", 0.3), ("rpc", "0.99", 1.2), ("rpc_sum", None, 4.5),
        ("rpc_count", None, 10.0)]
    assert {r.type for r in rows} == {"SUMMARY"}


def test_levels():
    assert [level_of(n, "") for n in (1, 5, 9, 13, 17, 21, 0)] == [
        "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "UNKNOWN"]
    assert level_of(0, "Warning") == "WARN"
    assert [level_word(w) for w in ("err", "info", "crit", "", "verbose")] == [
        "ERROR", "INFO", "FATAL", "UNKNOWN", "UNKNOWN"]


def test_decompress_limits():
    assert decompress(gzip.compress(b"a" * 100), "gzip", 100) == b"a" * 100
    with pytest.raises(PayloadError) as exc:
        decompress(gzip.compress(b"a" * 101), "gzip", 100)
    assert exc.value.status == 413
    with pytest.raises(PayloadError) as exc:
        decompress(gzip.compress(b"a" * 100)[:-8][:20], "gzip", 1000)
    assert exc.value.status == 400
