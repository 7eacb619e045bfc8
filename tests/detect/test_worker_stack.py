"""The detect worker against the real broker: anomalies, rules, dead letters, restore."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.codec import Codec
from streams.detect.metric_stage import StageConfig
from streams.detect.worker import DetectWorker, WorkerConfig
from streams.kafka.clients import make_consumer, make_producer
from tests.detect.data import STEP_MS, Targets

pytestmark = pytest.mark.stack


def _topics(bootstrap: str, unique: str, partitions: int = 4) -> dict[str, str]:
    names = {k: f"t.{k}.{unique}" for k in ("metrics", "gpu", "anomalies", "dead", "state")}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = [NewTopic(names[k], partitions, 1) for k in ("metrics", "gpu")]
    new += [NewTopic(names[k], 1, 1) for k in ("anomalies", "dead")]
    new.append(NewTopic(names["state"], 2, 1, config={"cleanup.policy": "compact"}))
    for f in admin.create_topics(new).values():
        f.result(30)
    return names


def _config(bootstrap: str, names: dict[str, str], group: str,
            gpu: bool = True) -> WorkerConfig:
    return WorkerConfig(
        bootstrap=bootstrap, group=group, metrics_topic=names["metrics"],
        gpu_topic=names["gpu"] if gpu else None, anomalies_topic=names["anomalies"],
        deadletter_topic=names["dead"], state_topic=names["state"],
        checkpoint_interval_s=3600, poll_timeout_s=0.2,
        stage=StageConfig(warmup=20, cooldown_ms=10 * STEP_MS))


def _produce(bootstrap: str, topic: str, data: Targets, steps: range,
             spike_at: int | None = None, extra: list[bytes] | None = None) -> None:
    p = make_producer(bootstrap)
    for k in steps:
        for t, (target, *_rest) in enumerate(data.targets):
            p.produce(topic, key=f"c1/{target}",
                      value=data.payload(t, k, 500.0 if k == spike_at else None))
        p.poll(0)
    for v in extra or []:
        p.produce(topic, key=b"bad", value=v)
    assert p.flush(30) == 0


def _drain(bootstrap: str, topic: str, codec: str, want: int, timeout: float = 30) -> list:
    """Every record on ``topic`` (at least ``want``, waiting up to ``timeout``)."""
    c = make_consumer(bootstrap, f"read-{time.time_ns()}")
    out: list = []
    end = time.monotonic() + timeout
    try:
        while True:
            md = c.list_topics(topic, timeout=10).topics[topic]
            tps = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.partitions]
            highs = {tp.partition: c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps}
            if sum(highs.values()) >= want or time.monotonic() > end:
                break
            time.sleep(0.2)
        c.assign(tps)
        left = {p for p, h in highs.items() if h > 0}
        while left and time.monotonic() < end + 30:
            for m in c.consume(500, timeout=0.5):
                if m.error():
                    continue
                out.append(Codec(codec).decode(m.value()))
                if m.offset() + 1 >= highs[m.partition()]:
                    left.discard(m.partition())
    finally:
        c.close()
    return out


def _run_until(worker: DetectWorker, done: callable, timeout: float = 60) -> None:
    worker.start()
    end = time.monotonic() + timeout
    while time.monotonic() < end and not done():
        worker.step(worker.consumer)


def _seen(worker: DetectWorker, topic: str, steps: int, data: Targets) -> callable:
    """True once the worker has processed ``steps`` scrapes of every target."""
    want = steps * len(data.targets) * len(data.targets[0][1])
    return lambda: worker.metrics.samples.labels(topic)._value.get() >= want


def test_worker_detects_dead_letters_and_survives_restart(stack, unique) -> None:
    names = _topics(stack.bootstrap, unique)
    data = Targets(8, 10)
    _produce(stack.bootstrap, names["metrics"], data, range(0, 100), extra=[b"not avro"])
    group = f"detect-{unique}"
    w1 = DetectWorker(_config(stack.bootstrap, names, group))
    _run_until(w1, _seen(w1, names["metrics"], 100, data))
    w1.run(max_seconds=0)  # checkpoint + commit + close
    dead = _drain(stack.bootstrap, names["dead"], "dead_letter", 1)
    assert len(dead) == 1 and dead[0]["raw"] == b"not avro" and dead[0]["component"] == "detect"

    # A new process (same group) restores the state: a spike right away is detected,
    # impossible after a cold start (warm-up of 20 samples).
    _produce(stack.bootstrap, names["metrics"], data, range(100, 102), spike_at=100)
    w2 = DetectWorker(_config(stack.bootstrap, names, group))
    _run_until(w2, _seen(w2, names["metrics"], 2, data))
    w2.run(max_seconds=0)
    restored = sum(len(s.registry) for s in w2.stages.values())
    assert restored == 0  # revoked and checkpointed on close
    found = _drain(stack.bootstrap, names["anomalies"], "anomaly", 8, timeout=20)
    spikes = {a["labels"]["pod"] for a in found
              if a["name"] == "app_latency_0" and a["sample_ts"] == 100 * STEP_MS}
    assert spikes == {f"pod-{t}" for t in range(8)}, [
        (a["name"], a["labels"].get("pod"), a["sample_ts"]) for a in found]


def test_rebalance_hands_warm_state_to_the_new_owner(stack, unique) -> None:
    names = _topics(stack.bootstrap, unique)
    data = Targets(8, 10, seed=3)
    _produce(stack.bootstrap, names["metrics"], data, range(0, 60))
    group = f"detect-{unique}"
    w1 = DetectWorker(_config(stack.bootstrap, names, group, gpu=False))
    _run_until(w1, _seen(w1, names["metrics"], 60, data))
    assert len([k for k in w1.stages if k[0] == names["metrics"]]) == 4

    w2 = DetectWorker(_config(stack.bootstrap, names, group, gpu=False))
    stop = threading.Event()

    def loop() -> None:
        w2.start()
        while not stop.is_set():
            w2.step(w2.consumer)

    th = threading.Thread(target=loop)
    th.start()
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end and not any(k[0] == names["metrics"] for k in w2.stages):
            w1.step(w1.consumer)
        moved = [k for k in w2.stages if k[0] == names["metrics"]]
        assert moved, "no partition moved to the second worker"
        assert all(w2.stages[k].live_series() > 0 for k in moved)  # restored, not cold
        _produce(stack.bootstrap, names["metrics"], data, range(60, 62), spike_at=60)
        end = time.monotonic() + 30
        got: list = []
        while time.monotonic() < end and len(got) < 8:
            w1.step(w1.consumer)
            got = [a for a in _drain(stack.bootstrap, names["anomalies"], "anomaly", 8, 1)
                   if a["name"] == "app_latency_0" and a["sample_ts"] == 60 * STEP_MS]
        assert {a["labels"]["pod"] for a in got} == {f"pod-{t}" for t in range(8)}
    finally:
        stop.set()
        th.join(30)
        w2.run(max_seconds=0)
        w1.run(max_seconds=0)


def test_gpu_rules_from_gpu_topic(stack, unique) -> None:
    names = _topics(stack.bootstrap, unique, partitions=1)
    codec = Codec("gpu_batch")

    def batch(ts: int, samples: list[dict]) -> bytes:
        return codec.encode({"batch_id": str(ts), "cluster": "c1", "source": "test",
                             "node": "n1", "scrape_ts": ts, "samples": samples})

    def gpu(uuid: str, ts: int, **kw: float) -> dict:
        return {"ts": ts, "node": "n1", "gpu": 0, "uuid": uuid, "model": "A100", "extra": {},
                **kw}

    p = make_producer(stack.bootstrap)
    for v in (batch(0, [gpu("GPU-a", 0, xid_last=0.0), gpu("GPU-b", 0)]),
              batch(1000, [gpu("GPU-a", 1000, xid_last=79.0)])):
        p.produce(names["gpu"], key=b"c1/n1", value=v)
    assert p.flush(30) == 0
    w = DetectWorker(_config(stack.bootstrap, names, f"g-{unique}"))
    w.start()
    end = time.monotonic() + 30
    breaches = w.metrics.anomalies.labels("THRESHOLD_BREACH")
    while time.monotonic() < end and breaches._value.get() < 2:
        w.step(w.consumer)
    w.run(max_seconds=0)
    found = _drain(stack.bootstrap, names["anomalies"], "anomaly", 2)
    assert {(a["detector"], a["entity"]) for a in found} == {
        ("rule:gpu_xid", "n1/GPU-a"), ("rule:gpu_missing", "n1/GPU-b")}
    assert all(a["type"] == "THRESHOLD_BREACH" and a["rule"] for a in found)


def test_spans_become_red_metrics_on_the_metrics_topic(stack, unique) -> None:
    from tests.detect.test_traces_logs import _spans

    names = _topics(stack.bootstrap, unique, partitions=1)
    admin = AdminClient({"bootstrap.servers": stack.bootstrap})
    spans_topic = f"t.spans.{unique}"
    for f in admin.create_topics([NewTopic(spans_topic, 1, 1)]).values():
        f.result(30)
    p = make_producer(stack.bootstrap)
    codec = Codec("span_batch")
    for t in range(0, 40, 2):
        p.produce(spans_topic, key=b"c1/front", value=codec.encode(_spans(t, 10)))
    assert p.flush(30) == 0
    cfg = _config(stack.bootstrap, names, f"s-{unique}", gpu=False)
    cfg.spans_topic = spans_topic
    w = DetectWorker(cfg)
    w.start()
    end = time.monotonic() + 30
    while time.monotonic() < end and w.metrics.samples.labels(spans_topic)._value.get() < 600:
        w.step(w.consumer)
    w.run(max_seconds=0)
    batches = [b for b in _drain(stack.bootstrap, names["metrics"], "metric_batch", 1)
               if b["source"] == "traces"]
    assert batches
    names_seen = {n for b in batches for n in b["names"]}
    assert {"aiops_red_requests_per_second", "aiops_edge_calls_per_second"} <= names_seen


def test_cli_runs_and_checkpoints_on_exit(stack, unique) -> None:
    import os
    import subprocess
    import sys

    from streams.kafka import admin

    admin.apply(stack.bootstrap)
    data = Targets(2, 5, seed=9)
    _produce(stack.bootstrap, "aiops.metrics", data, range(0, 3))
    env = dict(os.environ, AIOPS_KAFKA_BOOTSTRAP=stack.bootstrap,
               AIOPS_DETECT_GROUP=f"cli-{unique}", AIOPS_DETECT_METRICS_PORT="0")
    proc = subprocess.run([sys.executable, "-m", "streams.cli", "detect", "--max-seconds", "25"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "checkpointed" in proc.stderr + proc.stdout
