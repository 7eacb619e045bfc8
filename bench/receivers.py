"""Receiver throughput: OTLP/HTTP spans and Loki push lines through to a real Kafka.

Starts a private local stack (temp dir, free ports), serves the receivers app with
uvicorn, and pushes with concurrent httpx clients. Every request is acknowledged only
after Kafka confirmed it, so the figures are end-to-end (decode, map, Avro, publish,
broker ack). Prints one JSON object on its last line.

    .venv/bin/python bench/receivers.py [--requests 200] [--spans 500] [--clients 4]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.publish.kafka import KafkaPublisher  # noqa: E402
from connectors.receivers.app import ReceiverConfig, build_app  # noqa: E402
from connectors.receivers.base import ReceiverMetrics  # noqa: E402
from streams.kafka import admin  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.stack.manager import LocalStack  # noqa: E402


def _span_request(n: int, seed: int) -> bytes:
    spans = [Span(trace_id=(seed * 100_000 + i).to_bytes(16, "big"),
                  span_id=(i + 1).to_bytes(8, "big"), name=f"GET /item/{i % 20}",
                  kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=1_700_000_000_000_000_000,
                  end_time_unix_nano=1_700_000_000_005_000_000,
                  attributes=[KeyValue(key="http.status_code", value=AnyValue(int_value=200))])
             for i in range(n)]
    resource = [KeyValue(key="service.name", value=AnyValue(string_value=f"svc-{seed % 8}"))]
    req = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource={"attributes": resource}, scope_spans=[ScopeSpans(spans=spans)])])
    return req.SerializeToString()


def _loki_request(n: int, seed: int) -> bytes:
    now = time.time_ns()
    values = [[str(now + i), f"GET /item/{i % 20} 200 {i}ms user={seed}"] for i in range(n)]
    return json.dumps({"streams": [{"stream": {"namespace": "shop", "app": f"a{seed % 8}"},
                                    "values": values}]}).encode()


def _run(url: str, path: str, bodies: list[bytes], ctype: str, clients: int) -> dict:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()

    def send(body: bytes, http: httpx.Client) -> None:
        t0 = time.perf_counter()
        r = http.post(path, content=body, headers={"Content-Type": ctype})
        with lock:
            latencies.append(time.perf_counter() - t0)
            codes[r.status_code] = codes.get(r.status_code, 0) + 1

    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=url, timeout=60)
        return local.http

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda b: send(b, client()), bodies))
    wall = time.perf_counter() - start
    latencies.sort()
    return {"wall_s": round(wall, 3), "codes": codes,
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--spans", type=int, default=500, help="spans (and log lines) per request")
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        values: dict = dict(data_dir=Path(tmp), kafka_bootstrap=None, clickhouse_url=None,
                            kafka_port=0, clickhouse_http_port=0, clickhouse_tcp_port=0,
                            kafka_heap="512m")
        if os.environ.get("AIOPS_CACHE_DIR"):
            values["cache_dir"] = Path(os.environ["AIOPS_CACHE_DIR"])
        stack = LocalStack(Settings(**values))
        stack.up(timeout=180)
        try:
            bootstrap = stack.kafka_bootstrap()
            admin.apply(bootstrap)
            publisher = KafkaPublisher(bootstrap, **{"linger.ms": 5})
            metrics = ReceiverMetrics()
            app = build_app(publisher, ReceiverConfig(default_cluster="bench"), metrics=metrics)
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
            thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
            thread.start()
            while not server.started:
                time.sleep(0.05)
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            spans = [_span_request(args.spans, i) for i in range(args.requests)]
            lines = [_loki_request(args.spans, i) for i in range(args.requests)]
            otlp = _run(url, "/v1/traces", spans, "application/x-protobuf", args.clients)
            loki = _run(url, "/loki/api/v1/push", lines, "application/json", args.clients)
            server.should_exit = True
            thread.join()
            publisher.close()
        finally:
            stack.down()

    def published(source: str, signal: str) -> float:
        return metrics.registry.get_sample_value(
            "aiops_receiver_samples_published_total", {"source": source, "signal": signal}) or 0

    sent = args.requests * args.spans
    result = {
        "requests": args.requests, "per_request": args.spans, "clients": args.clients,
        "otlp_spans_per_s": round(sent / otlp["wall_s"]),
        "otlp_p50_ms": otlp["p50_ms"], "otlp_p99_ms": otlp["p99_ms"],
        "otlp_codes": otlp["codes"], "otlp_published": published("otlp-http", "traces"),
        "loki_lines_per_s": round(sent / loki["wall_s"]),
        "loki_p50_ms": loki["p50_ms"], "loki_p99_ms": loki["p99_ms"],
        "loki_codes": loki["codes"], "loki_published": published("loki-push", "logs"),
        "sent_each": sent,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
