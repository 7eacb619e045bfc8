"""End-to-end throughput of one ``aiops detect`` worker process with 1M live series.

Starts a private local stack, writes ``--series`` gauge series (``--targets`` scrape targets,
columnar MetricBatch records, realistic pod/namespace/node labels) for ``--rounds + 1``
scrapes to a 4-partition metrics topic, then runs the real :class:`DetectWorker`:

* round 0 registers every series (full Avro decode of new series; timed separately);
* rounds 1..R are the steady state: consume -> columnar decode -> subset detector update
  -> classify/gate -> produce anomalies (``samples_per_s``; the clock runs from the first
  poll to the last sample processed and the anomaly producer flushed);
* then one checkpoint of all partitions to ``aiops.detector-state`` is timed.

Last line: JSON with ``samples_per_s``, ``bytes_per_series`` and the other figures.
Usage: ``python bench/detect_throughput.py [--series 1000000] [--targets 1000] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from bench.stack import private_stack  # noqa: E402
from schemas.batches import metric_batch  # noqa: E402
from schemas.codec import Codec  # noqa: E402
from schemas.series import series_id  # noqa: E402
from streams.detect.metric_stage import StageConfig  # noqa: E402
from streams.detect.worker import DetectWorker, WorkerConfig  # noqa: E402
from streams.kafka.clients import make_producer  # noqa: E402

STEP_MS = 15_000


def make_topics(bootstrap: str, tag: str, partitions: int = 4) -> dict[str, str]:
    names = {k: f"bench.{k}.{tag}" for k in ("metrics", "anomalies", "dead", "state")}
    new = [NewTopic(names["metrics"], partitions, 1), NewTopic(names["anomalies"], 6, 1),
           NewTopic(names["dead"], 1, 1),
           NewTopic(names["state"], 6, 1, config={"cleanup.policy": "compact",
                                                  "max.message.bytes": str(8 << 20)})]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics(new).values():
        f.result(60)
    return names


class Fleet:
    """Scrape targets with fixed series identities; ``payloads(step)`` encodes one scrape."""

    def __init__(self, n_series: int, n_targets: int, seed: int = 1) -> None:
        self.codec = Codec("metric_batch")
        self.rng = np.random.default_rng(seed)
        per = n_series // n_targets
        self.targets = []
        for t in range(n_targets):
            names = [f"container_metric_{i % 40}" for i in range(per)]
            labels = [{"namespace": f"ns-{t % 50}", "pod": f"pod-{t}-{i // 40}",
                       "container": f"c{i % 3}", "node": f"node-{t % 200}"} for i in range(per)]
            ids = [series_id("bench", n, lb) for n, lb in zip(names, labels, strict=True)]
            self.targets.append((f"target-{t}", names, labels, ids))
        self.base = self.rng.uniform(10, 1000, (n_targets, per))

    def payloads(self, step: int, spikes: int = 0) -> list[tuple[str, bytes]]:
        out = []
        ts = step * STEP_MS
        for t, (target, names, labels, ids) in enumerate(self.targets):
            n = len(names)
            v = self.base[t] * (1 + 0.01 * self.rng.standard_normal(n))
            if spikes and t < spikes:
                v[0] *= 20
            out.append((f"bench/{target}", self.codec.encode(metric_batch(
                "bench", "bench", target, ts, names=names, labels=labels, values=list(v),
                timestamps=[ts] * n, types=["GAUGE"] * n, series_ids=ids))))
        return out


def produce(bootstrap: str, topic: str, payloads: list[tuple[str, bytes]]) -> None:
    p = make_producer(bootstrap)
    for key, value in payloads:
        while True:
            try:
                p.produce(topic, key=key, value=value)
                break
            except BufferError:
                p.poll(0.1)
    if p.flush(120):
        raise RuntimeError("bench data not delivered")


def worker_config(bootstrap: str, names: dict[str, str], group: str,
                  warmup: int = 100) -> WorkerConfig:
    return WorkerConfig(bootstrap=bootstrap, group=group, metrics_topic=names["metrics"],
                        gpu_topic=None, anomalies_topic=names["anomalies"],
                        deadletter_topic=names["dead"], state_topic=names["state"],
                        checkpoint_interval_s=1e9, batch_messages=200,
                        stage=StageConfig(warmup=warmup, cooldown_ms=3_600_000))


def consume_until(worker: DetectWorker, total: int, timeout: float = 600) -> None:
    """Step until the worker has processed ``total`` samples in all."""
    end = time.monotonic() + timeout
    while worker.metrics.samples.labels(worker.config.metrics_topic)._value.get() < total:
        if time.monotonic() > end:
            raise TimeoutError("worker did not catch up")
        worker.step(worker.consumer)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=1_000_000)
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    fleet = Fleet(args.series, args.targets)
    n = sum(len(t[1]) for t in fleet.targets)
    with private_stack("aiops-bench-detect-", kafka_heap="768m",
                       clickhouse=False) as (stack, _settings, _tmp):
        bootstrap = stack.kafka_bootstrap()
        names = make_topics(bootstrap, str(time.time_ns()))
        produce(bootstrap, names["metrics"], fleet.payloads(0))
        worker = DetectWorker(worker_config(bootstrap, names, "bench-detect"))
        worker.start()
        t0 = time.perf_counter()
        consume_until(worker, n)
        register_s = time.perf_counter() - t0
        for r in range(1, args.rounds + 1):
            produce(bootstrap, names["metrics"], fleet.payloads(r))
        t0 = time.perf_counter()
        consume_until(worker, n * (args.rounds + 1))
        worker.producer.flush(60)
        steady_s = time.perf_counter() - t0
        stages = list(worker.stages.values())
        live = sum(s.live_series() for s in stages)
        bytes_total = sum(s.bytes_per_series() * s.live_series() for s in stages)
        parts: dict[str, float] = {}
        for s in stages:
            for k, v in s.memory_breakdown().items():
                parts[k] = parts.get(k, 0.0) + v * s.live_series() / max(live, 1)
        slots = sum(s.registry.capacity for s in stages)
        t0 = time.perf_counter()
        worker._checkpoint(list(worker.stages))
        checkpoint_s = time.perf_counter() - t0
        anomalies = sum(s.value for m in worker.metrics.anomalies.collect()
                        for s in m.samples if s.name.endswith("_total"))
        worker.consumer.close()
    result = {
        "samples_per_s": round(n * args.rounds / steady_s),
        "bytes_per_series": round(bytes_total / max(live, 1), 1),
        "bytes_per_series_parts": {k: round(v, 1) for k, v in parts.items()},
        "slots_per_live_series": round(slots / max(live, 1), 3),
        "live_series": live,
        "steady_samples": n * args.rounds,
        "steady_s": round(steady_s, 2),
        "register_samples_per_s": round(n / register_s),
        "checkpoint_s_all_partitions": round(checkpoint_s, 2),
        "anomalies": anomalies,
        "partitions": 4,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
