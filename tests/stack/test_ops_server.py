"""Every component's operations endpoint: /metrics, /health and a real /ready."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry, Counter

from streams import ops_server


def test_metrics_health_and_ready() -> None:
    registry = CollectorRegistry()
    Counter("aiops_test_events_total", "Events seen by the test.", registry=registry).inc(3)
    server, _ = ops_server.start_http_server(0, "127.0.0.1", registry=registry)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert "aiops_test_events_total 3.0" in httpx.get(f"{base}/metrics").text
        assert httpx.get(f"{base}/health").json() == {"status": "ok"}
        ops_server.set_ready("kafka", False, "no partitions assigned")
        ready = httpx.get(f"{base}/ready")
        assert ready.status_code == 503
        assert ready.json()["failing"] == {"kafka": "no partitions assigned"}
        ops_server.set_ready("kafka", True)
        assert httpx.get(f"{base}/ready").status_code == 200
        assert httpx.get(f"{base}/nope").status_code == 404
    finally:
        server.shutdown()
        server.server_close()
