"""Scale-out of ``aiops detect``: two worker processes on a 4-partition topic versus one.

Starts a private local stack and writes ``--series`` series x ``--rounds`` scrapes to a
4-partition metrics topic *before* any worker starts (no producer competes with them).
Then it runs the real :class:`DetectWorker` in separate processes: one process owning all
four partitions, or two processes owning two each.  The partitions are assigned
statically (the split a consumer group makes) so no join/rebalance pause blurs the rate,
and every process gets ready (imports, consumer, restore) and then waits: all of them
start consuming at the same instant.  One worker and two workers run ``--repeats`` times
each (3), interleaved, and each side's figures are the best of its runs.  Each process
records its samples, wall time and CPU time after every poll.

Figures (two processes over one):

* ``speedup``: all samples over the wall span from the common start to the last sample;
* ``steady_speedup``: the same after each process's first scrape round (the first round
  registers every series and decodes its labels, a different workload);
* ``cpu_bound_speedup``: all samples over the busiest process's CPU seconds, the speedup
  with a free core per process;
* ``machine_parallelism``: the same comparison for a pure-Python CPU loop (one process vs
  two, same total work, best of three interleaved runs), just before the workers: what
  this machine gives two processes right now (2.0 on two idle cores, ~1 when others keep
  both cores busy); the unlimited speedup cannot exceed it.

Each worker process runs in its own CPU cgroup held to ``--cpu-per-worker`` cores (0.5 by
default), the way a Kubernetes CPU limit holds each ``aiops detect`` pod: one worker gets
0.5 cores, two workers get 0.5 each, and the broker keeps the rest of this two-core box.
By default each worker also runs on a CPU of its own (``--worker-cpus auto``: worker i on
the i-th CPU), as pods on separate cores or nodes: two workers that time-share one core
evict each other's caches and need more CPU per sample than one alone.
That is the question scale-out asks (does a second pod with its own CPU add its full
share?); with no limit the broker and both workers share two cores and the wall-clock
figure measures the box instead (``unlimited_speedup``, run too unless
``--skip-unlimited``).  ``--cpu-per-worker 0`` runs unlimited only.  The cgroup needs root
(cgroup v1 ``cpu`` or v2 ``cpu.max``).

Last line: JSON.  Usage: ``python bench/scale_out.py [--series 200000] [--targets 200]
[--rounds 8] [--cpu-per-worker 0.5]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import OFFSET_BEGINNING, TopicPartition  # noqa: E402

from bench.detect_throughput import (  # noqa: E402
    Fleet,
    make_topics,
    produce,
    worker_config,
)
from bench.stack import private_stack  # noqa: E402
from streams.detect.worker import DetectWorker  # noqa: E402

PARTITIONS = 4


def worker_main(args: argparse.Namespace) -> None:
    """One worker process: own partitions ``index::of``, wait for "go", drain them."""
    if args.worker_cpus:
        sets = args.worker_cpus.split("/")  # "0/1": worker 0 on CPU 0, worker 1 on CPU 1
        os.sched_setaffinity(0, {int(c) for c in sets[args.index % len(sets)].split(",")})
    names = json.loads(args.names)
    worker = DetectWorker(worker_config(args.bootstrap, names, args.group))
    consumer = worker.start_manual()
    # Explicit start offsets: no committed-offset lookup through a group coordinator.
    parts = [TopicPartition(names["metrics"], p, OFFSET_BEGINNING)
             for p in range(args.index, PARTITIONS, args.of)]
    worker.on_assign(consumer, parts)
    ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts}
    counter = worker.metrics.samples.labels(names["metrics"])
    print("ready", flush=True)
    sys.stdin.readline()  # "go": every process starts consuming at once
    go, cpu0 = time.time(), time.process_time()
    trace = [(go, 0.0, 0.0)]  # (wall, samples, cpu) after each poll
    while any(worker.next_offset.get((names["metrics"], p), 0) < hi for p, hi in ends.items()):
        if worker.step(consumer):
            trace.append((time.time(), counter._value.get(), time.process_time() - cpu0))
    worker.producer.flush(60)
    trace.append((time.time(), counter._value.get(), time.process_time() - cpu0))
    consumer.close()
    print(json.dumps({"go": go, "trace": trace}), flush=True)


def _steady(trace: list[list[float]], rounds: int) -> tuple[float, float, float]:
    """(start, end, samples) of a process after its first round of scrapes."""
    total = trace[-1][1]
    start = next(t for t in trace if t[1] >= total / rounds)
    return start[0], trace[-1][0], total - start[1]


PERIOD_US = 100_000


@contextlib.contextmanager
def cpu_cgroup(name: str, cores: float) -> Iterator[Callable[[], None]]:
    """A CPU cgroup limited to ``cores``; yields a ``preexec_fn`` that moves the new
    process into it.  Removed again on exit (its processes must have ended)."""
    quota = int(cores * PERIOD_US)
    v1 = Path("/sys/fs/cgroup/cpu")
    if (v1 / "cpu.cfs_quota_us").exists():
        path = v1 / name
        path.mkdir(exist_ok=True)
        (path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (path / "cpu.cfs_quota_us").write_text(str(quota))
    else:
        root = Path("/sys/fs/cgroup")
        if "cpu" not in (root / "cgroup.controllers").read_text().split():
            raise RuntimeError("no cgroup cpu controller here: run with --cpu-per-worker 0")
        (root / "cgroup.subtree_control").write_text("+cpu")
        path = root / name
        path.mkdir(exist_ok=True)
        (path / "cpu.max").write_text(f"{quota} {PERIOD_US}")
    procs = str(path / "cgroup.procs")

    def enter() -> None:
        with open(procs, "w") as f:
            f.write(str(os.getpid()))

    try:
        yield enter
    finally:
        for _ in range(50):  # the kernel frees a cgroup a moment after its last process
            try:
                path.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def run_workers(bootstrap: str, names: dict[str, str], n: int, tag: str,
                rounds: int, cores: float = 0.0, cpus: str = "") -> dict[str, float]:
    """Run ``n`` worker processes over the topic, started together, each held to
    ``cores`` CPUs by its own cgroup (0: unlimited) and run on ``cpus`` ("0": all on CPU 0,
    "0/1": worker i on the i-th set; empty: any)."""
    with contextlib.ExitStack() as stack:
        limits = [stack.enter_context(cpu_cgroup(f"aiops-scale-{os.getpid()}-{tag}-{i}",
                                                 cores)) if cores > 0 else None
                  for i in range(n)]
        return _run_workers(bootstrap, names, n, tag, rounds, limits, cpus)


def _run_workers(bootstrap: str, names: dict[str, str], n: int, tag: str, rounds: int,
                 limits: list[Callable[[], None] | None], cpus: str) -> dict[str, float]:
    procs = [subprocess.Popen(
        [sys.executable, __file__, "--worker", "--bootstrap", bootstrap, "--names",
         json.dumps(names), "--group", f"scale-{tag}", "--index", str(i), "--of", str(n),
         "--worker-cpus", cpus],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=limits[i])
        for i in range(n)]
    for p in procs:  # its log lines may come first
        while (line := p.stdout.readline()) and line.strip() != "ready":
            pass
        if not line:
            raise RuntimeError("worker exited before it was ready")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=900)
        if p.returncode:
            raise RuntimeError(f"worker failed with {p.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    traces = [r["trace"] for r in results]
    samples = sum(t[-1][1] for t in traces)
    go = min(r["go"] for r in results)
    span = max(t[-1][0] for t in traces) - go
    cpu = max(t[-1][2] for t in traces)
    steady = [_steady(t, rounds) for t in traces]
    steady_span = max(s[1] for s in steady) - min(s[0] for s in steady)
    return {"samples": samples, "seconds": round(span, 2), "samples_per_s": samples / span,
            "cpu_s": round(cpu, 2), "samples_per_cpu_s": samples / cpu,
            "steady_samples_per_s": sum(s[2] for s in steady) / steady_span,
            "per_worker_samples_per_s": [round(t[-1][1] / (t[-1][0] - r["go"]))
                                         for t, r in zip(traces, results, strict=True)],
            "go_skew_s": round(max(r["go"] for r in results) - go, 3)}


SPIN = """
import sys, time
t0 = time.time()
x = 0
for i in range(int(sys.argv[1])):
    x += i * i % 7
print(t0, time.time())
"""


def machine_parallelism(loops: int = 10_000_000, repeats: int = 3) -> float:
    """Work per second of two spinning processes over one (same total work), the best of
    ``repeats`` interleaved runs of each (a quiet moment is what each can show).  The loop
    runs in a bare interpreter and is timed from the first loop start to the last loop end
    (interpreter start-up is not part of it)."""
    best = {1: 0.0, 2: 0.0}
    for _ in range(repeats):
        for n in (1, 2):
            procs = [subprocess.Popen([sys.executable, "-c", SPIN, str(loops // n)],
                                      stdout=subprocess.PIPE, text=True) for _ in range(n)]
            spans = [tuple(map(float, p.communicate(timeout=600)[0].split())) for p in procs]
            wall = max(e for _s, e in spans) - min(s for s, _e in spans)
            best[n] = max(best[n], loops / wall)
    return best[2] / best[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=200_000)
    ap.add_argument("--targets", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--cpu-per-worker", type=float, default=0.5,
                    help="cores each worker's cgroup may use (0: no limit)")
    ap.add_argument("--worker-cpus", default="auto",
                    help="CPUs the workers run on: 'auto' a CPU each (worker i on the i-th "
                         "CPU), '0' all on CPU 0, '0/1,2' worker i on the i-th set, "
                         "'any' unpinned")
    ap.add_argument("--repeats", type=int, default=3,
                    help="runs of each side, interleaved; each side's best counts")
    ap.add_argument("--skip-unlimited", action="store_true",
                    help="with a CPU limit, skip the unlimited comparison")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--bootstrap", help=argparse.SUPPRESS)
    ap.add_argument("--names", help=argparse.SUPPRESS)
    ap.add_argument("--group", help=argparse.SUPPRESS)
    ap.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--of", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker_main(args)
        return
    cpus = {"auto": "/".join(map(str, sorted(os.sched_getaffinity(0)))),
            "any": ""}.get(args.worker_cpus, args.worker_cpus)
    fleet = Fleet(args.series, args.targets)
    with private_stack("aiops-bench-scale-", kafka_heap="768m",
                       clickhouse=False) as (stack, _settings, _tmp):
        bootstrap = stack.kafka_bootstrap()
        names = make_topics(bootstrap, str(time.time_ns()), partitions=PARTITIONS)
        for r in range(args.rounds):
            produce(bootstrap, names["metrics"], fleet.payloads(r))
        machine = machine_parallelism()
        limited = (compare(bootstrap, names, args.rounds, args.cpu_per_worker, cpus,
                           args.repeats)
                   if args.cpu_per_worker > 0 else None)
        unlimited = (None if limited and args.skip_unlimited
                     else compare(bootstrap, names, args.rounds, 0.0, cpus, args.repeats))
    head = limited or unlimited
    assert head is not None
    out = {"speedup": head["speedup"], "cpu_per_worker": args.cpu_per_worker or None,
           "worker_cpus": cpus or "any"}
    if limited and unlimited:
        out["unlimited_speedup"] = unlimited["speedup"]
    out.update(head)
    if limited and unlimited:
        out["unlimited"] = unlimited
    out.update({"machine_parallelism": round(machine, 2),
                "load_avg_1m": round(os.getloadavg()[0], 2), "partitions": PARTITIONS})
    print(json.dumps(out))


def _ratio(a: float, b: float) -> float | None:
    """``a / b`` to two places; None when ``b`` is 0 (a run too short to have a steady
    part)."""
    return round(a / b, 2) if b else None


def compare(bootstrap: str, names: dict[str, str], rounds: int, cores: float,
            cpus: str = "", repeats: int = 3) -> dict[str, object]:
    """The figures of two workers over one: one, two, one, two, ... ``repeats`` times, each
    worker held to ``cores`` (0: unlimited) on ``cpus``, each side the best of its runs (the
    machine's speed drifts by several per cent between runs; interleaved best-of-N gives
    neither side the quieter moment).  The first pass also warms the broker's page cache."""
    tag = f"c{cores:g}"
    ones, twos = [], []
    for k in range(repeats):
        ones.append(run_workers(bootstrap, names, 1, f"{tag}-one-{k}", rounds, cores, cpus))
        twos.append(run_workers(bootstrap, names, 2, f"{tag}-two-{k}", rounds, cores, cpus))
    one = max(ones, key=lambda r: r["samples_per_s"])
    two = max(twos, key=lambda r: r["samples_per_s"])
    steady_one = max(r["steady_samples_per_s"] for r in ones)
    cpu_one = max(r["samples_per_cpu_s"] for r in ones)
    steady_two = max(r["steady_samples_per_s"] for r in twos)
    cpu_two = max(r["samples_per_cpu_s"] for r in twos)
    return {
        "speedup": _ratio(two["samples_per_s"], one["samples_per_s"]),
        "steady_speedup": _ratio(steady_two, steady_one),
        "cpu_bound_speedup": _ratio(cpu_two, cpu_one),
        "one_worker_samples_per_s": round(one["samples_per_s"]),
        "two_workers_samples_per_s": round(two["samples_per_s"]),
        "two_workers_each_samples_per_s": two["per_worker_samples_per_s"],
        "one_worker_steady_samples_per_s": round(steady_one),
        "two_workers_steady_samples_per_s": round(steady_two),
        "one_worker_cpu_s": one["cpu_s"], "two_workers_max_cpu_s": two["cpu_s"],
        "one_worker_s": one["seconds"], "two_workers_s": two["seconds"],
        "one_worker_runs_samples_per_s": [round(r["samples_per_s"]) for r in ones],
        "two_workers_runs_samples_per_s": [round(r["samples_per_s"]) for r in twos],
        "go_skew_s": two["go_skew_s"], "samples": one["samples"],
    }


if __name__ == "__main__":
    main()
