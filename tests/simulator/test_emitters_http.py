"""Exposition endpoints parse with prometheus_client; pushes parse with opentelemetry-proto."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from streams.simulator.emitters.exposition import ExpositionEmitter
from streams.simulator.emitters.push import PushEmitter
from streams.simulator.faults import parse_spec
from streams.simulator.fleet import FleetRun
from tests.simulator.helpers import START_MS, STEP_MS


@pytest.fixture()
def exposed() -> Iterator[tuple[ExpositionEmitter, FleetRun]]:
    emitter = ExpositionEmitter(port=0, timestamps=True)
    run = FleetRun.create(clusters=4, seed=5, start_ms=START_MS, step_ms=STEP_MS, speed=0,
                          specs=[parse_spec("cluster_dark@+0s/10m:cluster=faredge-003")])
    emitter.setup()
    for k in range(3):
        for sim in run.sims:
            emitter.add(sim, sim.tick(k), k)
    yield emitter, run
    emitter.close()


def _samples(text: str) -> dict[tuple, float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_every_target_parses_with_prometheus_client(exposed) -> None:
    emitter, run = exposed
    sd = httpx.get(emitter.base_url + "/targets").json()
    paths = [e["labels"]["__metrics_path__"] for e in sd]
    assert any("/dcgm/" in p for p in paths) and any("node-exporter" in p for p in paths)
    checked = 0
    with httpx.Client(base_url=emitter.base_url) as client:
        for entry in sd:
            path, cluster = entry["labels"]["__metrics_path__"], entry["labels"]["cluster"]
            resp = client.get(path)
            if cluster == "faredge-003":
                assert resp.status_code == 503  # dark: the scraper sees nothing
                continue
            assert resp.status_code == 200, path
            samples = _samples(resp.text)
            assert samples, path
            if "/targets/" in path:
                sim = next(s for s in run.sims if s.cluster.name == cluster)
                name = path.split("/targets/", 1)[1].removesuffix("/metrics")
                target = next(t for t in sim.table.targets if t.name == name)
                assert len(samples) == len(target.names)
            checked += 1
    assert checked > 30


def test_exposed_values_are_the_simulated_ones(exposed) -> None:
    emitter, run = exposed
    sim = run.sims[1]
    target = next(t for t in sim.table.targets if t.name.startswith("app/boutique/frontend"))
    text = httpx.get(f"{emitter.base_url}/clusters/{sim.cluster.name}/targets/{target.name}"
                     "/metrics").text
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    assert fams["http_server_requests_seconds"].type == "histogram"
    samples = _samples(text)
    latest = emitter.latest[sim.cluster.name][1]
    for i, (name, labels) in enumerate(zip(target.names, target.labels, strict=True)):
        got = samples[(name, tuple(sorted(labels.items())))]
        assert math.isclose(got, latest.values[target.rows[i]], rel_tol=1e-12)
    assert f" {latest.ts}\n" in text  # simulated timestamps in accelerated mode


def test_dcgm_endpoint_looks_like_dcgm_exporter(exposed) -> None:
    emitter, run = exposed
    spoke = next(s for s in run.sims if s.cluster.has_gpu)
    node = spoke.cluster.gpus[0].node
    text = httpx.get(f"{emitter.base_url}/clusters/{spoke.cluster.name}/dcgm/{node}/metrics").text
    util = [s for f in text_string_to_metric_families(text) if f.name == "DCGM_FI_DEV_GPU_UTIL"
            for s in f.samples]
    assert len(util) == len([g for g in spoke.cluster.gpus if g.node == node])
    assert {"gpu", "UUID", "modelName", "Hostname", "pod", "namespace"} <= set(util[0].labels)
    assert util[0].labels["namespace"] == "llm"


class _Receiver:
    """A loopback HTTP endpoint that records what is POSTed to it (the receiving peer)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, str, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append((self.path, self.headers["Content-Type"], body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_push_bodies_parse_with_the_real_protocols() -> None:
    rx = _Receiver()
    try:
        push = PushEmitter(otlp_url=rx.url, loki_url=rx.url,
                           alertmanager_url=rx.url + "/webhook")
        run = FleetRun.create(clusters=2, seed=9, start_ms=START_MS, step_ms=STEP_MS, speed=0,
                              specs=[parse_spec("bad_deployment@+15s/30s")], emitters=[push])
        stats = run.run(ticks=5)
    finally:
        rx.close()
    assert stats["push_failures"] == 0 and stats["otlp_posts"] > 0
    traces = [b for p, _, b in rx.bodies if p == "/v1/traces"]
    req = ExportTraceServiceRequest()
    req.ParseFromString(traces[0])
    spans = [s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert spans and all(len(s.trace_id) == 16 and len(s.span_id) == 8 for s in spans)
    res = {kv.key: kv.value.string_value for kv in req.resource_spans[0].resource.attributes}
    assert res["k8s.cluster.name"] in {"hub-000", "spoke-001"} and "service.name" in res
    roots = [s for s in spans if not s.parent_span_id]
    assert roots and all(s.end_time_unix_nano > s.start_time_unix_nano for s in spans)
    loki = [json.loads(b) for p, _, b in rx.bodies if p == "/loki/api/v1/push"]
    stream = loki[0]["streams"][0]
    assert "cluster" in stream["stream"] and int(stream["values"][0][0]) > 0
    assert stream["values"][0][2]["level"] in {"INFO", "WARN", "ERROR"}
    hooks = [json.loads(b) for p, _, b in rx.bodies if p == "/webhook"]
    assert [h["status"] for h in hooks] == ["firing", "resolved"]
    alert = hooks[0]["alerts"][0]
    assert hooks[0]["version"] == "4" and alert["labels"]["alertname"] == "ServiceErrorRateHigh"
    assert alert["labels"]["service"] == "paymentservice" and alert["fingerprint"]
