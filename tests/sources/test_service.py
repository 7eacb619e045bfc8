"""`aiops scrape` end to end: real node-exporter + a captured dcgm-exporter payload served over
HTTP, real Kafka; GpuBatches, MetricBatches, the ClusterRecord heartbeat and /metrics."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from connectors.publish.kafka import KafkaPublisher
from connectors.registry_feed import build_record
from connectors.sources.base import ScrapeOutcome
from connectors.sources.config import ClusterIdentity, ScrapeConfig
from connectors.sources.discovery import Target
from streams.kafka import admin
from streams.scrape.service import ScrapeService
from tests.conftest import RunningStack, shared_dir
from tests.sources import peers
from tests.sources.kafka_read import read_records, samples

GPU_DIR = shared_dir() / "samples" / "gpu_telemetry"


@pytest.fixture()
def dcgm_endpoint(tmp_path: Path) -> Iterator[str]:
    """The shared dcgm-exporter capture served as /metrics by a plain HTTP file server."""
    if not GPU_DIR.is_dir():
        pytest.skip(f"{GPU_DIR} is absent")
    (tmp_path / "metrics").write_bytes(
        (GPU_DIR / "datadog_dcgm_fixture_metrics.txt").read_bytes())
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.stack
def test_scrape_service_end_to_end(stack: RunningStack, dcgm_endpoint: str, tmp_path: Path,
                                   unique: str) -> None:
    admin.apply(stack.bootstrap)
    cluster = f"spoke-{unique}"
    with peers.node_exporter(tmp_path) as node:
        cfg = ScrapeConfig.model_validate({
            "cluster": {"name": cluster, "region": "lab-1", "environment": "lab",
                        "labels": {"site": "a"}},
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "heartbeat_interval": "1s",
            "scrape_configs": [
                {"job_name": "node", "static_configs": [{"targets": [node]}]},
                {"job_name": "gpu", "source": "dcgm",
                 "static_configs": [{"targets": [dcgm_endpoint]}]},
            ],
        })
        publisher = KafkaPublisher(stack.bootstrap)
        service = ScrapeService(cfg, publisher)
        port = service.serve_metrics(0, "127.0.0.1")

        async def run() -> str:
            await service.start()
            try:
                for _ in range(100):
                    await asyncio.sleep(0.2)
                    beats = service.metrics.heartbeats._value.get()
                    if len(service.outcomes()) == 2 and beats >= 2:
                        break
                return httpx.get(f"http://127.0.0.1:{port}/metrics").text
            finally:
                await service.stop()

        text = asyncio.run(run())
        publisher.close()
    gpu = read_records(stack.bootstrap, "aiops.gpu", "gpu_batch", cluster, min_count=3)
    assert {b["node"] for b in gpu} >= {"424773df46e0", "551bdf382151", "ip-11111"}
    models = {s["model"] for b in gpu for s in b["samples"]}
    assert models == {"Tesla T4", "NVIDIA A10G"}
    metrics = samples(read_records(stack.bootstrap, "aiops.metrics", "metric_batch", cluster,
                                   min_count=2))
    ups = {(r[1]["job"], r[2]) for r in metrics if r[0] == "up"}
    assert ("node", 1.0) in ups and ("gpu", 1.0) in ups
    records = read_records(stack.bootstrap, "aiops.clusters", "cluster_record", cluster,
                           key_prefix=cluster, min_count=2)
    last = records[-1]
    assert last["status"] == "ONLINE" and last["health_score"] == 1.0
    assert last["capabilities"]["gpu_count"] == 3
    assert last["capabilities"]["gpu_models"] == ["NVIDIA A10G", "Tesla T4"]
    assert last["region"] == "lab-1" and last["labels"] == {"site": "a"}
    assert 'aiops_scrape_samples_scraped_total{job="node",source="prometheus"}' in text
    assert 'aiops_scrape_samples_dropped_total{job="gpu",reason="no_gpu",source="dcgm"}' in text
    assert "aiops_publish_spool_depth_records 0.0" in text
    assert "aiops_publish_latency_seconds_bucket" in text


def test_health_and_status_follow_reachability() -> None:
    ident = ClusterIdentity(name="c1")
    t = Target("node", "a:1", {"job": "node", "instance": "a:1"})
    up = ScrapeOutcome(t, 0, True, 0.1, capabilities={"ptp", "prometheus"})
    down = ScrapeOutcome(t, 0, False, 0.1, capabilities={"sriov"})
    rec = build_record(ident, [up, down], {"loki": True, "tempo": False}, now_ms=5)
    assert rec["health_score"] == 0.5 and rec["status"] == "DEGRADED"
    caps = rec["capabilities"]
    assert caps["has_ptp"] and not caps["has_sriov"]  # a down target's families do not count
    assert caps["has_prometheus"] and caps["has_loki"] and not caps["has_tempo"]
    assert build_record(ident, [up], {}, now_ms=5)["status"] == "ONLINE"
    assert build_record(ident, [], {}, now_ms=5)["status"] == "UNKNOWN"
    assert rec["cluster_id"] == build_record(ident, [], {}, now_ms=9)["cluster_id"]
