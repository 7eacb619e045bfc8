"""confluent-kafka producer and consumer configurations shared by every component.

>>> producer_config("127.0.0.1:9092")["enable.idempotence"]
True
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, Producer

from streams.kafka.readiness import readiness_config
from streams.ops_server import clear_ready


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """Idempotent, lz4-compressed, batched producer settings."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": 20,
        "batch.size": 1_000_000,
        "batch.num.messages": 10_000,
        "queue.buffering.max.messages": 200_000,
        "queue.buffering.max.kbytes": 512 * 1024,
        "message.max.bytes": 8 * 1024 * 1024,
        "log_level": 3,
    }
    config.update(overrides)
    return config


def consumer_config(bootstrap: str, group: str, **overrides: Any) -> dict[str, Any]:
    """Manual-commit consumer settings (commit only after the work is durable)."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "fetch.max.bytes": 64 * 1024 * 1024,
        "max.partition.fetch.bytes": 16 * 1024 * 1024,
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": 10_000,
        # librdkafka postpones a partition's next fetch by this much once its prefetch queue
        # passes queued.min.messages / queued.max.messages.kbytes (default 1000 ms). Scrape-
        # sized messages fill it fast, so a worker draining a backlog sat idle a third of the
        # time (bench/scale_out.py: one detect worker 1.27M -> 1.78-1.89M samples/s).
        "fetch.queue.backoff.ms": 20,
        "log_level": 3,
    }
    config.update(overrides)
    return config


def make_producer(bootstrap: str, **overrides: Any) -> Producer:
    """A producer with :func:`producer_config`."""
    return Producer(producer_config(bootstrap, **overrides))


def make_consumer(bootstrap: str, group: str, *, ready_check: bool = False,
                  **overrides: Any) -> Consumer:
    """A consumer with :func:`consumer_config`. ``ready_check``: the service's long-lived
    consumer, whose broker connectivity becomes a readiness check of the process's ops
    endpoint (``kafka consumer <group>``, see streams.kafka.readiness)."""
    config = consumer_config(bootstrap, group, **overrides)
    if not ready_check:
        return Consumer(config)
    check = f"kafka consumer {group}"
    config.update(readiness_config(check))
    return ReportingConsumer(config, check)


class ReportingConsumer(Consumer):
    """A consumer whose readiness check is dropped when it closes."""

    def __init__(self, config: dict[str, Any], check: str) -> None:
        super().__init__(config)
        self.ready_check = check

    def close(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().close(*args, **kwargs)
        finally:
            clear_ready(self.ready_check)
