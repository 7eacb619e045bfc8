"""A cluster whose heartbeats stop is reported once, in event time, and state survives a
hand-over (real broker)."""

from __future__ import annotations

import dataclasses
import time

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streams.detect.silence import DETECTOR, NAME
from streams.detect.worker import DetectWorker
from streams.kafka.clients import make_producer
from tests.detect.test_silence_batch import _record
from tests.detect.test_worker_stack import _config, _drain, _topics

pytestmark = pytest.mark.stack
STEP = 15_000


def _serve(worker: DetectWorker, seconds: float = 8.0) -> None:
    worker.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        worker.step(worker.consumer)
    worker.run(max_seconds=0)  # checkpoint, commit, close


def test_silent_cluster_reported_once_across_a_hand_over(stack, unique) -> None:
    names = _topics(stack.bootstrap, unique, partitions=1)
    names["clusters"] = f"t.clusters.{unique}"
    admin = AdminClient({"bootstrap.servers": stack.bootstrap})
    for f in admin.create_topics([NewTopic(names["clusters"], 1, 1, config={
            "cleanup.policy": "compact"})]).values():
        f.result(30)
    config = dataclasses.replace(_config(stack.bootstrap, names, f"silence-{unique}"),
                                 clusters_topic=names["clusters"], cluster_silence_ms=60_000)
    p = make_producer(stack.bootstrap)
    for k in range(10):  # both clusters heartbeat for 150 s of event time
        for c in ("alive", "dark"):
            p.produce(names["clusters"], key=c.encode(), value=_record(c, k * STEP))
    assert p.flush(30) == 0
    _serve(DetectWorker(config))
    assert not _drain(stack.bootstrap, names["anomalies"], "anomaly", 0, timeout=1)

    for k in range(10, 20):  # then only one does: 'dark' falls 150 s behind
        p.produce(names["clusters"], key=b"alive", value=_record("alive", k * STEP))
    assert p.flush(30) == 0
    _serve(DetectWorker(config))  # the next owner restores the heartbeats it saw
    for k in range(20, 24):
        p.produce(names["clusters"], key=b"alive", value=_record("alive", k * STEP))
    assert p.flush(30) == 0
    _serve(DetectWorker(config))

    found = _drain(stack.bootstrap, names["anomalies"], "anomaly", 1, timeout=20)
    assert [(a["entity_type"], a["entity"], a["name"], a["detector"], a["severity"])
            for a in found] == [("CLUSTER", "dark", NAME, DETECTOR, "CRITICAL")]
    assert found[0]["start_ts"] == 9 * STEP  # its last heartbeat


def test_a_partition_read_behind_another_fakes_no_silence(stack, unique) -> None:
    """Regression: the worker's clock is the newest heartbeat of all its registry
    partitions, so a partition fetched behind the others made its clusters look silent
    (every lagging e2e run reported a few).  A partition not read to its end is judged by
    its own clock; read to its end, by the newest (a real silence is still reported)."""
    names = _topics(stack.bootstrap, unique, partitions=1)
    names["clusters"] = topic = f"t.clusters.{unique}"
    admin = AdminClient({"bootstrap.servers": stack.bootstrap})
    for f in admin.create_topics([NewTopic(topic, 2, 1, config={
            "cleanup.policy": "compact"})]).values():
        f.result(30)
    config = dataclasses.replace(_config(stack.bootstrap, names, f"skew-{unique}"),
                                 clusters_topic=topic, cluster_silence_ms=60_000)
    p = make_producer(stack.bootstrap)

    def beat(part: int, name: str, steps: range) -> None:
        for k in steps:
            p.produce(topic, key=name.encode(), value=_record(name, k * STEP), partition=part)
        assert p.flush(30) == 0

    beat(0, "ahead", range(3))
    beat(1, "behind", range(3))
    worker = DetectWorker(config)
    consumer = worker.start_manual()
    worker.on_assign(consumer, [TopicPartition(topic, 0, 0), TopicPartition(topic, 1, 0)])

    def serve(seconds: float = 4.0) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            worker.step(consumer)

    serve()
    # Both keep beating for 300 s more, but partition 1 is not delivered (paused): its
    # newest delivered heartbeat is 270 s behind partition 0's.
    consumer.pause([TopicPartition(topic, 1)])
    beat(1, "behind", range(3, 23))
    beat(0, "ahead", range(3, 23))
    serve()
    assert worker.stages[(topic, 0)].max_ts == 22 * STEP
    assert worker.stages[(topic, 1)].max_ts == 2 * STEP
    consumer.resume([TopicPartition(topic, 1)])
    serve()
    assert worker.stages[(topic, 1)].max_ts == 22 * STEP
    # Now 'behind' really stops: read to its end, its partition is judged by the newest.
    beat(0, "ahead", range(23, 33))
    serve()
    worker.run(max_seconds=0)
    found = _drain(stack.bootstrap, names["anomalies"], "anomaly", 1, timeout=20)
    assert [(a["entity"], a["start_ts"]) for a in found] == [("behind", 22 * STEP)]
