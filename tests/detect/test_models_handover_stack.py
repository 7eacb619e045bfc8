"""A second worker takes over a GPU partition with the River models warm (real broker)."""

from __future__ import annotations

import random
import time

import pytest

from streams.detect.gpu_stage import GpuStage
from streams.detect.worker import DetectWorker
from streams.kafka.clients import make_producer
from tests.detect.test_gpu_stage import _batch
from tests.detect.test_worker_stack import _config, _drain, _topics

pytestmark = pytest.mark.stack
HOT = {"gpu_util": 100.0, "gpu_temp_c": 95.0, "power_w": 600.0, "sm_clock_mhz": 900.0}


def _events() -> list[bytes]:
    rnd = random.Random(4)
    return [_batch(k * 15_000, rnd, **(HOT if k == 152 else {})) for k in range(170)]


def _serve(worker: DetectWorker, topic: str, samples: int, timeout: float = 60) -> None:
    worker.start()
    end = time.monotonic() + timeout
    counter = worker.metrics.samples.labels(topic)
    while time.monotonic() < end and counter._value.get() < samples:
        worker.step(worker.consumer)
    worker.run(max_seconds=0)  # checkpoint, commit, close
    assert counter._value.get() >= samples


def test_next_owner_scores_like_an_uninterrupted_run(stack, unique) -> None:
    names = _topics(stack.bootstrap, unique, partitions=1)
    events = _events()
    p = make_producer(stack.bootstrap)
    for e in events[:150]:
        p.produce(names["gpu"], key=b"c1/n1", value=e)
    assert p.flush(30) == 0
    group = f"models-{unique}"
    _serve(DetectWorker(_config(stack.bootstrap, names, group)), names["gpu"], 150)

    for e in events[150:]:
        p.produce(names["gpu"], key=b"c1/n1", value=e)
    assert p.flush(30) == 0
    _serve(DetectWorker(_config(stack.bootstrap, names, group)), names["gpu"], 20)

    found = [a for a in _drain(stack.bootstrap, names["anomalies"], "anomaly", 1, timeout=20)
             if a["detector"] == "hst:gpu"]
    whole = GpuStage()
    expected = [a for e in events for a in whole.process([e]).anomalies
                if a["detector"] == "hst:gpu"]
    # The outlier two events after the hand-over is found (a cold model warms up for 100
    # events), with the id and score of the uninterrupted run.
    assert [(a["anomaly_id"], a["score"], a["sample_ts"]) for a in found] == [
        (a["anomaly_id"], a["score"], a["sample_ts"]) for a in expected]
    assert [a["sample_ts"] for a in found] == [152 * 15_000]
