"""Malformed payloads get 4xx with a reason (and a counter); backpressure gets 429/503."""

from __future__ import annotations

import gzip
import socket
import threading

import httpx
import pytest
from google.rpc.status_pb2 import Status

from connectors.publish.kafka import KafkaPublisher
from connectors.receivers.app import ReceiverConfig, build_app
from connectors.receivers.base import ReceiverMetrics
from tests.receivers.conftest import sample, serve

pytestmark = pytest.mark.stack

SMALL = ReceiverConfig(default_cluster="errors", max_body_bytes=2048, max_decoded_bytes=8192)


@pytest.fixture()
def small(publisher):
    metrics = ReceiverMetrics()
    with serve(build_app(publisher, SMALL, metrics=metrics)) as url, \
            httpx.Client(base_url=url) as http:
        yield http, metrics


def _errors(metrics, source, reason):
    return sample(metrics, "aiops_receiver_errors_total", source=source, reason=reason)


def test_otlp_bad_protobuf_answers_status_with_reason(small):
    http, metrics = small
    r = http.post("/v1/traces", content=b"\xff\xff\xff\xff",
                  headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400
    status = Status.FromString(r.content)
    assert "invalid OTLP protobuf" in status.message and status.code == 3
    assert _errors(metrics, "otlp-http", "malformed") == 1
    assert sample(metrics, "aiops_receiver_requests_total", source="otlp-http",
                  code="400") == 1


@pytest.mark.parametrize(("body", "reason"), [
    (b"{not json", "invalid JSON"),
    (b"[1, 2]", "must be an object"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "traceId"),
    (b'{"resourceSpans": {"x": 1}}', "invalid OTLP/JSON"),
])
def test_otlp_bad_json(small, body, reason):
    http, metrics = small
    r = http.post("/v1/traces", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and reason in r.json()["message"]
    assert _errors(metrics, "otlp-http", "malformed") == 1


def test_wrong_content_type_is_415(small):
    http, metrics = small
    for path, source in (("/v1/logs", "otlp-http"), ("/loki/api/v1/push", "loki-push"),
                         ("/alertmanager/webhook", "alertmanager")):
        r = http.post(path, content=b"hello", headers={"Content-Type": "text/plain"})
        assert r.status_code == 415 and "Content-Type" in r.text
        assert _errors(metrics, source, "bad_content_type") == 1


def test_oversized_and_bomb_and_bad_gzip(small):
    http, metrics = small
    proto = {"Content-Type": "application/x-protobuf"}
    r = http.post("/v1/metrics", content=b"\x00" * 4096, headers=proto)
    assert r.status_code == 413 and "limit" in Status.FromString(r.content).message
    r = http.post("/v1/metrics", content=gzip.compress(b"\x00" * 100_000),
                  headers={**proto, "Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed" in Status.FromString(r.content).message
    assert _errors(metrics, "otlp-http", "too_large") == 2
    r = http.post("/v1/metrics", content=b"not gzip at all",
                  headers={**proto, "Content-Encoding": "gzip"})
    assert r.status_code == 400
    r = http.post("/v1/metrics", content=b"x", headers={**proto, "Content-Encoding": "br"})
    assert r.status_code == 415
    assert _errors(metrics, "otlp-http", "bad_encoding") == 2


@pytest.mark.parametrize(("headers", "body", "reason"), [
    ({"Content-Type": "application/json"}, b'{"streams": 3}', "streams"),
    ({"Content-Type": "application/json"},
     b'{"streams": [{"stream": {"a": "b"}, "values": [[1570818238, "x"]]}]}', "timestamp"),
    ({"Content-Type": "application/x-protobuf"}, b"\x05not snappy", "snappy"),
])
def test_loki_malformed(small, headers, body, reason):
    http, metrics = small
    r = http.post("/loki/api/v1/push", content=body, headers=headers)
    assert r.status_code == 400 and reason in r.text
    assert _errors(metrics, "loki-push", r.status_code == 400 and (
        "bad_encoding" if "snappy" in reason else "malformed")) == 1


def test_alertmanager_malformed(small):
    http, metrics = small
    r = http.post("/alertmanager/webhook", json={"version": "3", "alerts": []})
    assert r.status_code == 400 and "version" in r.text
    r = http.post("/alertmanager/webhook", json={"version": "4", "alerts": [
        {"status": "firing", "labels": {"alertname": "X"}, "startsAt": "yesterday"}]})
    assert r.status_code == 400 and "RFC 3339" in r.text
    assert _errors(metrics, "alertmanager", "malformed") == 2


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_kafka_answers_503_then_429_with_retry_after(topics_ready):
    pub = KafkaPublisher(f"127.0.0.1:{_dead_port()}", max_block_s=0.1,
                         **{"message.timeout.ms": 60000})
    metrics = ReceiverMetrics()
    cfg = ReceiverConfig(default_cluster="down", publish_timeout_s=3, max_inflight=1,
                         retry_after_s=7)
    body = b'{"streams": [{"stream": {"app": "a"}, "values": [["1570818238000000000", "x"]]}]}'
    headers = {"Content-Type": "application/json"}
    try:
        with serve(build_app(pub, cfg, metrics=metrics)) as url, \
                httpx.Client(base_url=url, timeout=20) as http:
            first: list[httpx.Response] = []
            slow = threading.Thread(target=lambda: first.append(
                http.post("/loki/api/v1/push", content=body, headers=headers)))
            slow.start()
            deadline = threading.Event()
            while not sample(metrics, "aiops_receiver_samples_received_total",
                             source="loki-push", signal="logs"):
                deadline.wait(0.02)
            deadline.wait(0.3)  # the first request now holds the only delivery slot
            second = http.post("/loki/api/v1/push", content=body, headers=headers)
            slow.join()
            assert second.status_code == 429 and second.headers["Retry-After"] == "7"
            assert first[0].status_code == 503 and first[0].headers["Retry-After"] == "7"
            assert "kafka" in first[0].text
            dropped = sum(sample(metrics, "aiops_receiver_samples_dropped_total",
                                 source="loki-push", signal="logs", reason=r)
                          for r in ("publish_timeout", "kafka_unavailable"))
            assert dropped == 1
            assert sample(metrics, "aiops_receiver_samples_dropped_total", source="loki-push",
                          signal="logs", reason="too_many_requests") == 1
            assert sample(metrics, "aiops_receiver_samples_published_total",
                          source="loki-push", signal="logs") == 0
            metrics_text = http.get("/metrics").text
            assert "aiops_receiver_samples_dropped_total" in metrics_text
    finally:
        pub.close(0.5)
