"""Faust agent versus the confluent-kafka batch consumer on the same columnar metric topic.

Starts a private local stack and writes ``--series`` series x ``--rounds`` scrapes to a
4-partition topic.  Then, each in its own process and on the same data:

* ``batch``: the real :class:`DetectWorker` (confluent-kafka ``consume(n)``), as in
  ``bench/scale_out.py`` with one process;
* ``faust_take``: a Faust agent taking up to ``--take`` records per step
  (``stream.take``) and running the same :class:`MetricStage` on each step;
* ``faust_event``: a Faust agent handing the stage one record (one scrape) per event.

Each process times from its first record to its last (all rounds, including the first
scrape that registers every series) and, ``steady_*``, from the end of the first scrape to
the last record.  Last line: JSON with messages/s and samples/s of each and
``faust_over_batch`` (best Faust rate / batch rate).
Usage: ``python bench/detect_faust.py [--series 200000] [--targets 200] [--rounds 8]``.
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

from bench.detect_throughput import Fleet, make_topics, produce  # noqa: E402
from bench.scale_out import run_workers  # noqa: E402
from bench.stack import private_stack  # noqa: E402


def faust_main(bootstrap: str, topic: str, total: int, take: int, steady_after: int) -> None:
    """Child process: consume ``total`` records with a Faust agent, print the timing."""
    import faust
    from faust.worker import Worker

    from streams.detect.metric_stage import MetricStage, StageConfig

    stage = MetricStage(StageConfig(warmup=100, cooldown_ms=3_600_000))
    app = faust.App(f"bench-faust-{time.time_ns()}", broker=f"kafka://{bootstrap}",
                    store="memory://", web_enabled=False, autodiscover=False,
                    consumer_auto_offset_reset="earliest", topic_allow_declare=True,
                    topic_replication_factor=1, topic_partitions=4,
                    datadir=tempfile.mkdtemp())
    src = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw",
                    value_serializer="raw")
    seen = {"messages": 0, "samples": 0, "first": None, "steady": None, "steady_at": 0}

    def note_steady() -> None:
        if seen["steady"] is None and seen["samples"] >= steady_after:
            seen["steady"], seen["steady_at"] = time.time(), seen["samples"]

    def done() -> None:
        out = dict(seen, last=time.time())
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
        os._exit(0)  # Faust owns the loop and signal handlers; the timing is printed

    if take > 1:
        @app.agent(src)
        async def detect_batches(stream):  # noqa: ANN001, ANN202 - Faust agent signature
            async for values in stream.take(take, within=0.2):
                if seen["first"] is None:
                    seen["first"] = time.time()
                seen["samples"] += stage.process(list(values)).samples
                seen["messages"] += len(values)
                note_steady()
                if seen["messages"] >= total:
                    done()
    else:
        @app.agent(src)
        async def detect_events(stream):  # noqa: ANN001, ANN202 - Faust agent signature
            async for value in stream:
                if seen["first"] is None:
                    seen["first"] = time.time()
                seen["samples"] += stage.process([value]).samples
                seen["messages"] += 1
                note_steady()
                if seen["messages"] >= total:
                    done()

    Worker(app, loglevel="warning", quiet=True, override_logging=False).execute_from_commandline()


def run_faust(bootstrap: str, topic: str, total: int, take: int,
              steady_after: int) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--faust-child", bootstrap, topic,
                           str(total), str(take), str(steady_after)], capture_output=True,
                          text=True, timeout=900)
    # Faust's terminal handling may prefix the line with escape codes.
    lines = [ln[ln.index('{"messages"'):] for ln in proc.stdout.splitlines()
             if '{"messages"' in ln]
    if not lines:
        raise RuntimeError(f"faust child failed: {proc.stderr[-2000:]}")
    r = json.loads(lines[-1])
    span = r["last"] - r["first"]
    return {"messages_per_s": r["messages"] / span, "samples_per_s": r["samples"] / span,
            "seconds": span, "steady_samples_per_s": (r["samples"] - r["steady_at"]) / (
                r["last"] - r["steady"])}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--faust-child":
        faust_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                   int(sys.argv[6]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=200_000)
    ap.add_argument("--targets", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--take", type=int, default=200)
    args = ap.parse_args()
    fleet = Fleet(args.series, args.targets)
    total = args.targets * args.rounds
    with private_stack("aiops-bench-faust-", kafka_heap="768m",
                       clickhouse=False) as (stack, _settings, _tmp):
        bootstrap = stack.kafka_bootstrap()
        names = make_topics(bootstrap, str(time.time_ns()))
        for r in range(args.rounds):
            produce(bootstrap, names["metrics"], fleet.payloads(r))
        series = args.targets * (args.series // args.targets)
        batch = run_workers(bootstrap, names, 1, "faustcmp", args.rounds)
        batch["messages_per_s"] = total / batch["seconds"]
        take = run_faust(bootstrap, names["metrics"], total, args.take, series)
        event = run_faust(bootstrap, names["metrics"], total, 1, series)
    best = max(take["samples_per_s"], event["samples_per_s"])
    print(json.dumps({
        "batch_samples_per_s": round(batch["samples_per_s"]),
        "batch_messages_per_s": round(batch["messages_per_s"], 1),
        "faust_take_samples_per_s": round(take["samples_per_s"]),
        "faust_take_messages_per_s": round(take["messages_per_s"], 1),
        "faust_event_samples_per_s": round(event["samples_per_s"]),
        "faust_event_messages_per_s": round(event["messages_per_s"], 1),
        "faust_over_batch": round(best / batch["samples_per_s"], 2),
        "steady_batch_samples_per_s": round(batch["steady_samples_per_s"]),
        "steady_faust_take_samples_per_s": round(take["steady_samples_per_s"]),
        "steady_faust_event_samples_per_s": round(event["steady_samples_per_s"]),
        "samples_per_message": args.series // args.targets, "messages": total,
    }))


if __name__ == "__main__":
    main()
