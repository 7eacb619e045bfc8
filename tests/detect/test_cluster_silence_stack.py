"""A cluster whose heartbeats stop is reported once, in event time, and state survives a
hand-over (real broker)."""

from __future__ import annotations

import dataclasses
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.codec import Codec
from streams.detect.silence import DETECTOR, NAME
from streams.detect.worker import DetectWorker
from streams.kafka.clients import make_producer
from tests.detect.test_worker_stack import _config, _drain, _topics

pytestmark = pytest.mark.stack
STEP = 15_000


def _record(name: str, ts: int) -> bytes:
    return Codec("cluster_record").encode({
        "cluster_id": name, "name": name, "type": "SPOKE", "platform": "OPENSHIFT",
        "version": "4.16", "region": "eu", "environment": "prod", "labels": {},
        "endpoints": {}, "capabilities": {"gpu_count": 0, "gpu_models": [], "has_ptp": False,
                                          "has_sriov": False, "has_dpdk": False},
        "status": "ONLINE", "health_score": 1.0,
        "last_seen": ts, "record_version": ts})


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
