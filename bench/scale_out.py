"""Scale-out of ``aiops detect``: two worker processes on a 4-partition topic versus one.

Starts a private local stack, writes ``--series`` series x ``--rounds`` scrapes to a
4-partition metrics topic, then runs the real :class:`DetectWorker` in separate processes:
one process owning all four partitions, two processes owning two each, then one process
again (the single-process rate is the better of its two runs).  The two processes own two
partitions each, the split a consumer group makes; they are assigned statically so that
the join/rebalance pause (covered by the stack tests) does not blur the rate.  Each process
times from its first consumed batch to its last sample; the two-process rate is all samples
over the span from the earliest first batch to the latest last sample.

Last line: JSON with ``speedup`` (two-process rate over one-process rate, wall clock) and
``cpu_bound_speedup`` (all samples over the busiest process's CPU seconds, two versus one:
the speedup with a free core per process, which a shared 2-core machine does not give).
Usage: ``python bench/scale_out.py [--series 200000] [--targets 200] [--rounds 8]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import OFFSET_BEGINNING, TopicPartition  # noqa: E402

from bench.detect_throughput import (  # noqa: E402
    Fleet,
    local_stack,
    make_topics,
    produce,
    worker_config,
)
from streams.detect.worker import DetectWorker  # noqa: E402

PARTITIONS = 4


def worker_main(args: argparse.Namespace) -> None:
    """One worker process: own partitions ``index::of`` and drain them."""
    names = json.loads(args.names)
    worker = DetectWorker(worker_config(args.bootstrap, names, args.group))
    consumer = worker.start_manual()
    # Explicit start offsets: no committed-offset lookup through a group coordinator.
    parts = [TopicPartition(names["metrics"], p, OFFSET_BEGINNING)
             for p in range(args.index, PARTITIONS, args.of)]
    worker.on_assign(consumer, parts)
    ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts}
    first = last = steady = None
    steady_at = 0.0
    cpu0 = 0.0
    counter = worker.metrics.samples.labels(names["metrics"])
    while any(worker.next_offset.get((names["metrics"], p), 0) < hi for p, hi in ends.items()):
        before, cpu_before = time.time(), time.process_time()
        if worker.step(consumer) and first is None:
            first, cpu0 = before, cpu_before
        if steady is None and args.steady_after and counter._value.get() >= args.steady_after:
            steady, steady_at = time.time(), counter._value.get()
    worker.producer.flush(60)
    last = time.time()
    cpu = time.process_time() - cpu0
    samples = worker.metrics.samples.labels(names["metrics"])._value.get()
    consumer.close()
    print(json.dumps({"samples": samples, "first": first, "last": last, "cpu": cpu,
                      "steady": steady, "steady_at": steady_at}), flush=True)


def run_workers(bootstrap: str, names: dict[str, str], n: int, tag: str,
                steady_after: int = 0) -> dict[str, float]:
    """Run ``n`` worker processes over the topic; ``steady_after``: also time the samples
    after that many (one process only: e.g. after the first scrape registered every series)."""
    procs = [subprocess.Popen(
        [sys.executable, __file__, "--worker", "--bootstrap", bootstrap, "--names",
         json.dumps(names), "--group", f"scale-{tag}", "--index", str(i), "--of", str(n),
         "--steady-after", str(steady_after)],
        stdout=subprocess.PIPE, text=True) for i in range(n)]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=900)
        if p.returncode:
            raise RuntimeError(f"worker failed with {p.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    samples = sum(r["samples"] for r in results)
    span = max(r["last"] for r in results) - min(r["first"] for r in results)
    cpu = max(r["cpu"] for r in results)
    out = {"samples": samples, "seconds": round(span, 2), "samples_per_s": samples / span,
           "cpu_s": round(cpu, 2), "samples_per_cpu_s": samples / cpu}
    r0 = results[0]
    if n == 1 and r0.get("steady"):
        out["steady_samples_per_s"] = (r0["samples"] - r0["steady_at"]) / (
            r0["last"] - r0["steady"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=200_000)
    ap.add_argument("--targets", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--bootstrap", help=argparse.SUPPRESS)
    ap.add_argument("--names", help=argparse.SUPPRESS)
    ap.add_argument("--group", help=argparse.SUPPRESS)
    ap.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--of", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--steady-after", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker_main(args)
        return
    fleet = Fleet(args.series, args.targets)
    with tempfile.TemporaryDirectory() as tmp:
        stack = local_stack(Path(tmp))
        stack.up(timeout=240)
        try:
            bootstrap = stack.kafka_bootstrap()
            names = make_topics(bootstrap, str(time.time_ns()), partitions=PARTITIONS)
            for r in range(args.rounds):
                produce(bootstrap, names["metrics"], fleet.payloads(r))
            # one, two, one again: the first pass also warms the broker's page cache, so
            # the single-process rate is the better of its two runs.
            one_a = run_workers(bootstrap, names, 1, "one-a")
            two = run_workers(bootstrap, names, 2, "two")
            one_b = run_workers(bootstrap, names, 1, "one-b")
            one = max(one_a, one_b, key=lambda r: r["samples_per_s"])
        finally:
            stack.down()
    print(json.dumps({
        "speedup": round(two["samples_per_s"] / one["samples_per_s"], 2),
        "cpu_bound_speedup": round(two["samples_per_cpu_s"] / one["samples_per_cpu_s"], 2),
        "one_worker_cpu_s": one["cpu_s"], "two_workers_max_cpu_s": two["cpu_s"],
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "one_worker_samples_per_s": round(one["samples_per_s"]),
        "two_workers_samples_per_s": round(two["samples_per_s"]),
        "one_worker_s": one["seconds"], "two_workers_s": two["seconds"],
        "one_worker_runs_samples_per_s": [round(one_a["samples_per_s"]),
                                          round(one_b["samples_per_s"])],
        "samples": one["samples"], "partitions": PARTITIONS,
    }))


if __name__ == "__main__":
    main()
