"""Direct mode against the session's real Kafka: every message decodes with the codec."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.codec import Codec
from schemas.topics import TOPICS
from streams.simulator.emitters.direct import DirectEmitter
from streams.simulator.faults import parse_spec
from streams.simulator.fleet import FleetRun
from tests.conftest import RunningStack
from tests.simulator.helpers import START_MS, STEP_MS

pytestmark = pytest.mark.stack


def _consume_all(bootstrap: str, topics: list[str], group: str, expect: int) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(topics)
    got: list = []
    try:
        idle = 0
        while len(got) < expect and idle < 40:
            batch = consumer.consume(num_messages=5000, timeout=0.5)
            idle = 0 if batch else idle + 1
            got.extend(m for m in batch if not m.error())
    finally:
        consumer.close()
    return got


def test_direct_mode_messages_decode(stack: RunningStack, unique: str, tmp_path) -> None:
    mapping = {t.name: f"{unique}.{t.name}" for t in TOPICS}
    admin = AdminClient({"bootstrap.servers": stack.bootstrap})
    for fut in admin.create_topics([NewTopic(n, 3, 1) for n in mapping.values()]).values():
        fut.result(30)
    emitter = DirectEmitter(stack.bootstrap, topics=mapping)
    truth = tmp_path / "truth.jsonl"
    run = FleetRun.create(
        clusters=4, seed=21, start_ms=START_MS, step_ms=STEP_MS, speed=0,
        specs=[parse_spec("gpu_xid_error@+15s/30s"), parse_spec(
            "cluster_dark@+0s/5m:cluster=faredge-003")],
        emitters=[emitter], truth_path=truth)
    stats = run.run(ticks=4)
    assert stats["messages"] > 100 and stats["samples"] > 4 * 3 * 1000
    value_schema = {mapping[t.name]: t.value_schema for t in TOPICS}
    msgs = _consume_all(stack.bootstrap, list(mapping.values()), f"sim-{unique}",
                        int(stats["messages"]))
    assert len(msgs) == stats["messages"]
    by_topic: dict[str, list[dict]] = {}
    for m in msgs:
        rec = Codec(value_schema[m.topic()]).decode(m.value())
        by_topic.setdefault(m.topic().removeprefix(f"{unique}."), []).append(rec)
        if m.topic().endswith("aiops.metrics"):
            assert m.key().decode() == f"{rec['cluster']}/{rec['target']}"
    metrics = by_topic["aiops.metrics"]
    assert sum(len(r["values"]) for r in metrics) == stats["samples"]
    assert {r["cluster"] for r in metrics} == {"hub-000", "spoke-001", "edge-002"}  # 003 dark
    assert {r["name"] for r in by_topic["aiops.clusters"]} == {"hub-000", "spoke-001",
                                                               "edge-002"}
    gpu = by_topic["aiops.gpu"]
    assert any(s["xid_last"] == 43 for r in gpu for s in r["samples"])
    assert by_topic["aiops.spans"] and by_topic["aiops.logs"]
    assert [a["status"] for a in by_topic["aiops.alerts"]] == ["FIRING", "RESOLVED"]
    truth_topic = sorted(by_topic["aiops.groundtruth"], key=lambda r: r["start_ts"])
    file_truth = sorted((json.loads(x) for x in truth.read_text().splitlines()),
                        key=lambda r: r["start_ts"])
    assert [r["kind"] for r in truth_topic] == ["cluster_dark", "gpu_xid_error"]
    assert truth_topic == file_truth
    assert truth_topic[1]["root_cause_type"] == "GPU"
    assert truth_topic[1]["root_cause"].split("/")[1].startswith("GPU-")
