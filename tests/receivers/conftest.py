"""Receiver test fixtures: a real publisher on the session's Kafka and a live HTTP server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from connectors.publish.kafka import KafkaPublisher
from connectors.receivers.app import ReceiverConfig, build_app
from connectors.receivers.base import ReceiverMetrics
from schemas.codec import Codec
from streams.kafka import admin
from streams.kafka.clients import make_consumer


@pytest.fixture(scope="session")
def topics_ready(stack) -> str:
    """The catalogue's topics exist on the session broker."""
    admin.apply(stack.bootstrap)
    return stack.bootstrap


@pytest.fixture()
def publisher(topics_ready: str) -> Iterator[KafkaPublisher]:
    pub = KafkaPublisher(topics_ready, **{"linger.ms": 2})
    yield pub
    pub.close()


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("receiver server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture()
def receiver(publisher: KafkaPublisher, unique: str) -> Iterator[tuple[str, ReceiverMetrics, str]]:
    """(base URL, metrics, default cluster) of a live receiver app."""
    metrics = ReceiverMetrics()
    cluster = f"c-{unique}"
    app = build_app(publisher, ReceiverConfig(default_cluster=cluster, publish_timeout_s=15),
                    metrics=metrics)
    with serve(app) as url:
        yield url, metrics, cluster


def collect(bootstrap: str, topic: str, schema: str, keep: Callable[[dict], bool], n: int,
            timeout: float = 30.0) -> list[tuple[bytes, dict]]:
    """(key, record) pairs on ``topic`` matching ``keep``, until ``n`` of them or timeout."""
    consumer = make_consumer(bootstrap, f"test-{time.time_ns()}")
    consumer.subscribe([topic])
    codec = Codec(schema)
    found: list[tuple[bytes, dict]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < n and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error():
                    continue
                rec = codec.decode(msg.value())
                if keep(rec):
                    found.append((msg.key(), rec))
    finally:
        consumer.close()
    return found


def sample(metrics: ReceiverMetrics, name: str, **labels: str) -> float:
    """Current value of one self-metric sample (0 when absent)."""
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0
