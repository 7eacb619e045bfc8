"""The consumer example in docs/subscribing.md really works against a broker."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from schemas.codec import Codec, raw_schema
from streams.kafka import admin
from tests.avro_data import sample_record
from tests.conftest import REPO, RunningStack

pytestmark = pytest.mark.stack


def _messages_in(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        meta = consumer.list_topics(topic, timeout=10)
        total = 0
        for partition in meta.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 10)
            total += high - low
        return total
    finally:
        consumer.close()


def test_subscribe_example_prints_decoded_records(stack: RunningStack, unique: str) -> None:
    admin.apply(stack.bootstrap)
    codec = Codec("rca_report")
    records = [sample_record(raw_schema("rca_report"), s) for s in range(3)]
    producer = Producer({"bootstrap.servers": stack.bootstrap})
    producer.produce("aiops.rca", key=b"docs", value=b"\xc3\x01garbage")
    for record in records:
        producer.produce("aiops.rca", key=b"docs", value=codec.encode(record))
    assert producer.flush(30) == 0
    total = _messages_in(stack.bootstrap, "aiops.rca")
    result = subprocess.run(
        [sys.executable, str(REPO / "docs" / "examples" / "subscribe.py"),
         "--bootstrap", stack.bootstrap, "--topic", "aiops.rca", "--group", f"docs-{unique}",
         "--max-messages", str(total - 1)],
        capture_output=True, text=True, timeout=120, check=True, cwd=REPO,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    ours = {r["report_id"] for r in records}
    decoded = [line for line in lines if line.get("report_id") in ours]
    assert [d["report_id"] for d in decoded] == [r["report_id"] for r in records]
    errors = [line for line in lines if "error" in line and "report_id" not in line]
    assert len(errors) == 1 and "CodecError" not in errors[0]["error"]
