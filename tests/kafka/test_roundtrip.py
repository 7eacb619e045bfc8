"""Every schema round-trips through a real topic on the real broker."""

from __future__ import annotations

import dataclasses

import pytest
from confluent_kafka import Consumer, Producer

from schemas.codec import Codec, raw_schema
from schemas.errors import CorruptPayloadError
from schemas.topics import TOPICS, topic_by_name
from streams.kafka import admin
from tests.avro_data import sample_record
from tests.conftest import RunningStack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def topics(stack: RunningStack) -> None:
    admin.apply(stack.bootstrap)


def consume_keys(bootstrap: str, topic: str, group: str, prefix: str, count: int) -> list:
    """Consume ``topic`` from the start until ``count`` messages keyed ``prefix*`` arrived."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    got: list = []
    try:
        for _ in range(120):
            for m in consumer.consume(num_messages=1000, timeout=0.5):
                if not m.error() and m.key() and m.key().decode().startswith(prefix):
                    got.append(m)
            if len(got) >= count:
                break
    finally:
        consumer.close()
    return sorted(got, key=lambda m: m.key())


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_schema_round_trips_through_its_topic(
    stack: RunningStack, topics: None, topic, unique: str
) -> None:
    codec = Codec(topic.value_schema)
    records = [sample_record(raw_schema(topic.value_schema), seed) for seed in range(5)]
    producer = Producer({"bootstrap.servers": stack.bootstrap, "enable.idempotence": True,
                         "compression.type": "lz4", "linger.ms": 5})
    marker = f"{unique}-{topic.name}"
    for i, record in enumerate(records):
        producer.produce(topic.name, key=f"{marker}-{i}".encode(), value=codec.encode(record))
    assert producer.flush(30) == 0
    ours = consume_keys(stack.bootstrap, topic.name, f"rt-{unique}", marker, len(records))
    assert [codec.decode(m.value()) for m in ours] == records


def test_corrupt_message_on_a_real_topic_yields_the_typed_error(
    stack: RunningStack, unique: str
) -> None:
    # A private topic: a corrupt record on the shared aiops.alerts would break other consumers.
    topic = dataclasses.replace(topic_by_name("aiops.alerts"), name=f"test.corrupt.{unique}")
    admin.apply(stack.bootstrap, (topic,))
    codec = Codec("alert")
    good = codec.encode(sample_record(raw_schema("alert"), 7))
    producer = Producer({"bootstrap.servers": stack.bootstrap})
    producer.produce(topic.name, key=f"corrupt-{unique}".encode(), value=good[:-3])
    assert producer.flush(30) == 0
    mine = consume_keys(stack.bootstrap, topic.name, f"corrupt-{unique}",
                        f"corrupt-{unique}", 1)
    assert len(mine) == 1
    with pytest.raises(CorruptPayloadError):
        codec.decode(mine[0].value())
