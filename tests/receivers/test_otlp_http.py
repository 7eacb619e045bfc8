"""OTLP/HTTP receiver against the real OpenTelemetry SDK exporters and real Kafka."""

from __future__ import annotations

import gzip
import json
import logging
import math

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.conftest import shared_dir
from tests.receivers.conftest import collect, sample

pytestmark = pytest.mark.stack


def test_sdk_spans_land_keyed_by_cluster_and_service(receiver, topics_ready, unique):
    url, metrics, cluster = receiver
    resource = Resource.create({"service.name": "checkout", "k8s.namespace.name": "shop"})
    provider = TracerProvider(resource=resource)
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", compression=Compression.Gzip)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER) as root, \
            tracer.start_as_current_span("SELECT cart", kind=SpanKind.CLIENT) as child:
        child.set_attribute("db.rows", 3)
        child.set_status(Status(StatusCode.ERROR, "timeout"))
    provider.shutdown()
    found = collect(topics_ready, "aiops.spans", "span_batch",
                    lambda r: r["cluster"] == cluster, 2)
    spans = {}
    for key, rec in found:
        assert key == f"{cluster}/checkout".encode()
        assert rec["source"] == "otlp-http"
        for i, op in enumerate(rec["operations"]):
            spans[op] = {k: rec[k][i] for k in ("trace_ids", "span_ids", "parent_span_ids",
                                                "kinds", "status_codes", "status_messages",
                                                "attributes", "resources", "duration_ns")}
    assert set(spans) == {"GET /cart", "SELECT cart"}
    server, client = spans["GET /cart"], spans["SELECT cart"]
    assert server["trace_ids"] == format(root.get_span_context().trace_id, "032x")
    assert server["parent_span_ids"] == ""
    assert client["parent_span_ids"] == server["span_ids"]
    assert (server["kinds"], client["kinds"]) == ("SERVER", "CLIENT")
    assert (client["status_codes"], client["status_messages"]) == ("ERROR", "timeout")
    assert client["attributes"]["db.rows"] == "3"
    assert client["resources"]["k8s.namespace.name"] == "shop"
    assert sample(metrics, "aiops_receiver_samples_published_total",
                  source="otlp-http", signal="traces") == 2


def test_sdk_logs_land_keyed_by_namespace_and_app(receiver, topics_ready):
    url, metrics, cluster = receiver
    resource = Resource.create({"service.name": "payments", "k8s.namespace.name": "shop",
                                "k8s.cluster.name": f"{cluster}-east"})
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(SimpleLogRecordProcessor(
        OTLPLogExporter(endpoint=f"{url}/v1/logs")))
    logger = logging.getLogger(f"otlp-test-{cluster}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = LoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    logger.warning("card declined for order %s", 42)
    logger.error("payment gateway down")
    provider.shutdown()
    logger.removeHandler(handler)
    found = collect(topics_ready, "aiops.logs", "log_batch",
                    lambda r: r["cluster"] == f"{cluster}-east", 2)
    lines = {}
    for key, rec in found:
        assert key == f"{cluster}-east/shop/payments".encode()
        for i, body in enumerate(rec["bodies"]):
            lines[body] = (rec["levels"][i], rec["labels"][i])
    assert lines["card declined for order 42"][0] == "WARN"
    assert lines["payment gateway down"][0] == "ERROR"
    assert lines["payment gateway down"][1]["namespace"] == "shop"
    assert sample(metrics, "aiops_receiver_samples_published_total",
                  source="otlp-http", signal="logs") == 2


def test_sdk_metrics_become_prometheus_style_samples(receiver, topics_ready):
    url, metrics, cluster = receiver
    exporter = OTLPMetricExporter(endpoint=f"{url}/v1/metrics")
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create({"service.name": "api"}),
                             metric_readers=[reader])
    meter = provider.get_meter("test")
    meter.create_counter("http.requests").add(5, {"route": "/a"})
    hist = meter.create_histogram("http.latency", unit="s")
    for v in (0.003, 0.2, 7.0):
        hist.record(v, {"route": "/a"})
    meter.create_up_down_counter("queue.depth").add(-2)
    provider.force_flush()
    provider.shutdown()
    found = collect(topics_ready, "aiops.metrics", "metric_batch",
                    lambda r: r["cluster"] == cluster, 1)
    key, rec = found[0]
    instance = rec["labels"][0].get("instance", "")  # the SDK's service.instance.id
    assert key == (f"{cluster}/api/{instance}" if instance else f"{cluster}/api").encode()
    assert rec["source"] == "otlp"
    rows = {(n, tuple(sorted((k, v) for k, v in lbl.items() if k != "instance"))): (v, t)
            for n, lbl, v, t in zip(rec["names"], rec["labels"], rec["values"], rec["types"],
                                    strict=True)}
    base = (("job", "api"), ("route", "/a"))
    assert rows[("http_requests_total", base)] == (5.0, "COUNTER")
    assert rows[("queue_depth", (("job", "api"),))] == (-2.0, "GAUGE")
    assert rows[("http_latency_count", base)] == (3.0, "HISTOGRAM")
    assert math.isclose(rows[("http_latency_sum", base)][0], 7.203)
    inf = rows[("http_latency_bucket", (("job", "api"), ("le", "+Inf"), ("route", "/a")))]
    assert inf == (3.0, "HISTOGRAM")
    five = rows[("http_latency_bucket", (("job", "api"), ("le", "5"), ("route", "/a")))]
    assert five == (2.0, "HISTOGRAM")  # SDK default bounds include 5; buckets cumulative


def _shared(name: str) -> bytes:
    path = shared_dir() / "samples" / "traces" / "otlp" / name
    if not path.exists():
        pytest.skip(f"{path} absent (shared/ not beside the repo)")
    return path.read_bytes()


def test_otlp_json_samples(receiver, topics_ready):
    url, metrics, cluster = receiver
    with httpx.Client(base_url=url) as http:
        for path, name in (("/v1/traces", "trace.json"), ("/v1/logs", "logs.json"),
                           ("/v1/metrics", "metrics.json")):
            r = http.post(path, content=gzip.compress(_shared(name)),
                          headers={"Content-Type": "application/json",
                                   "Content-Encoding": "gzip"})
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("application/json")
    (key, span), = collect(topics_ready, "aiops.spans", "span_batch",
                           lambda r: r["cluster"] == cluster, 1)
    assert key == f"{cluster}/my.service".encode()
    assert span["trace_ids"] == ["5b8efff798038103d269b633813fc60c"]
    assert span["parent_span_ids"] == ["eee19b7ec3c1b173"]
    assert span["kinds"] == ["SERVER"] and span["duration_ns"] == [1_000_000_000]
    (_, logs), = collect(topics_ready, "aiops.logs", "log_batch",
                         lambda r: r["cluster"] == cluster, 1)
    assert logs["bodies"][0] == "Example log record" and logs["levels"][0] == "INFO"
    assert logs["trace_ids"][0] == "5b8efff798038103d269b633813fc60c"
    assert logs["metadata"][0]["boolean.attribute"] == "true"
    assert json.loads(logs["metadata"][0]["array.attribute"]) == ["many", "values"]
    (_, met), = collect(topics_ready, "aiops.metrics", "metric_batch",
                        lambda r: r["cluster"] == cluster, 1)
    got = {(n, lbl.get("le", "")): v for n, lbl, v in zip(
        met["names"], met["labels"], met["values"], strict=True)}
    assert got[("my_counter", "")] == 5.0  # a delta sum: a gauge, not a Prometheus counter
    assert got[("my_gauge", "")] == 10.0
    assert got[("my_histogram_bucket", "1")] == 1.0
    assert got[("my_histogram_bucket", "+Inf")] == 2.0
    # exponential histogram, scale 0 (base 2), offset 1: (2, 4] holds 0, (4, 8] holds 2
    assert got[("my_exponential_histogram_bucket", "0")] == 1.0  # the zero bucket
    assert got[("my_exponential_histogram_bucket", "4")] == 1.0
    assert got[("my_exponential_histogram_bucket", "8")] == 3.0
    assert got[("my_exponential_histogram_count", "")] == 3.0
    assert sample(metrics, "aiops_receiver_samples_received_total",
                  source="otlp-http", signal="metrics") == 4
