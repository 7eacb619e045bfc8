"""Every component's operations endpoint: /metrics, /health and a real /ready."""

from __future__ import annotations

import httpx
import pytest
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
        assert ready.json()["failing"]["kafka"] == "no partitions assigned"
        ops_server.set_ready("kafka", True)
        assert "kafka" not in httpx.get(f"{base}/ready").json()["failing"]
        assert httpx.get(f"{base}/nope").status_code == 404
    finally:
        server.shutdown()
        server.server_close()


def _wait_ready(check: str, consumer, want: bool, timeout: float = 30.0) -> dict[str, str]:
    """Poll until ``check`` is ready (``want``) or failing for lost brokers (not ``want``)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        consumer.poll(0.5)
        failing = ops_server.readiness()[1]
        if want and check not in failing:
            return failing
        if not want and "no connection" in failing.get(check, ""):
            return failing
    raise AssertionError(f"{check} never became {'ready' if want else 'not ready'}: {failing}")


@pytest.mark.stack
def test_service_consumer_reports_broker_connectivity(stack, unique) -> None:
    from streams.kafka.clients import make_consumer

    group = f"ready-{unique}"
    check = f"kafka consumer {group}"
    consumer = make_consumer(stack.bootstrap, group, ready_check=True)
    try:
        assert ops_server.readiness()[1][check] == "connecting to Kafka"
        _wait_ready(check, consumer, True)
    finally:
        consumer.close()
    assert check not in ops_server.readiness()[1]  # a closed consumer's check is dropped
    dead = make_consumer("127.0.0.1:1", f"{group}-dead", ready_check=True)
    try:
        failing = _wait_ready(f"kafka consumer {group}-dead", dead, False, timeout=15)
        assert "no connection to any Kafka broker" in failing[f"kafka consumer {group}-dead"]
    finally:
        dead.close()
