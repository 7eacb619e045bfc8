"""KafkaPublisher against the session's real broker: delivery, order, permanent errors."""

from __future__ import annotations

import os
import threading

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

from connectors.publish.kafka import KafkaPublisher, PublishError
from tests.conftest import RunningStack

pytestmark = pytest.mark.stack


def create_topic(bootstrap: str, name: str, partitions: int = 3, **config: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, partitions, 1, config=config)])
    for fut in futures.values():
        fut.result(timeout=30)


def consume_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 60) -> list:
    """Every message of ``topic`` (from the start) once ``expected`` arrived or time ran out."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{topic}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    got: list = []
    try:
        for _ in range(int(timeout_s / 0.5)):
            got.extend(m for m in consumer.consume(5000, timeout=0.5) if not m.error())
            if len(got) >= expected:
                # a short extra read catches duplicates or extras, if any
                got.extend(m for m in consumer.consume(5000, timeout=1.0) if not m.error())
                break
    finally:
        consumer.close()
    return got


def test_publishes_in_key_order_and_counts_deliveries(stack: RunningStack, unique: str) -> None:
    topic = f"pub-{unique}"
    create_topic(stack.bootstrap, topic)
    pub = KafkaPublisher(stack.bootstrap)
    n = 3_000
    for i in range(n):
        pub.publish(topic, f"k{i % 10}".encode(), f"{i}".encode())
    assert pub.flush(30) == 0
    assert pub.counters.delivered == n and pub.counters.published == n
    assert pub.counters.spooled == 0 and pub.online
    assert pub.latency.collect()[0].samples  # latency histogram observed
    pub.close()
    got = consume_all(stack.bootstrap, topic, n)
    assert len(got) == n
    per_key: dict[bytes, list[int]] = {}
    for m in got:
        per_key.setdefault(m.key(), []).append(int(m.value()))
    for key, values in per_key.items():
        assert values == sorted(values), f"key {key!r} out of order"
        assert len({m.partition() for m in got if m.key() == key}) == 1


def test_broker_rejection_is_counted_not_spooled(stack: RunningStack, unique: str) -> None:
    topic = f"small-{unique}"
    create_topic(stack.bootstrap, topic, 1, **{"max.message.bytes": "2000"})
    pub = KafkaPublisher(stack.bootstrap)
    pub.publish(topic, b"k", os.urandom(50_000))  # incompressible: over the topic's limit
    assert pub.flush(30) == 0
    pub.publish(topic, b"k", b"ok")
    assert pub.flush(30) == 0
    assert pub.counters.failed == 1 and pub.counters.delivered == 1
    assert pub.spool_depth == 0
    pub.close()


def test_record_larger_than_producer_limit_raises(stack: RunningStack, unique: str) -> None:
    pub = KafkaPublisher(stack.bootstrap, **{"message.max.bytes": 10_000})
    with pytest.raises(PublishError, match="too large|size"):
        pub.publish(f"any-{unique}", b"k", b"x" * 20_000)
    assert pub.counters.failed == 1
    pub.close()


def test_concurrent_publishers_share_one_instance(stack: RunningStack, unique: str) -> None:
    topic = f"mt-{unique}"
    create_topic(stack.bootstrap, topic)
    pub = KafkaPublisher(stack.bootstrap)

    def worker(w: int) -> None:
        for i in range(1_000):
            pub.publish(topic, f"w{w}".encode(), f"{i}".encode())
            if i % 100 == 0:
                pub.poll(0)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    pub.flush(0.5)  # flushing while others publish must not deadlock or lose records
    for t in threads:
        t.join()
    assert pub.flush(30) == 0 and pub.counters.delivered == 4_000
    pub.close()
    got = consume_all(stack.bootstrap, topic, 4_000)
    for w in range(4):
        values = [int(m.value()) for m in got if m.key() == f"w{w}".encode()]
        assert values == list(range(1_000))
