"""Scale proof of the fleet simulator in direct mode: 100 clusters x 10k series to real Kafka.

Starts a private local stack (temp data dir, free ports), creates the catalogue topics, builds a
fleet whose worker count is raised until the fleet holds at least ``clusters * series`` series,
then runs ``ticks`` ticks as fast as possible (speed 0) with metrics, GPU, spans, logs, alerts and
heartbeats, and waits until Kafka acknowledged every message.
Figures: samples/s, wall time, the wall time of one tick of the whole fleet and how many times
faster than real time that is at the 15 s scrape interval (``realtime_headroom``).
Last line: JSON.

Usage: ``python bench/simulate_direct.py [--clusters 100] [--series 10000] [--ticks 8]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.kafka import admin  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.simulator.emitters.direct import DirectEmitter  # noqa: E402
from streams.simulator.faults import load_schedule  # noqa: E402
from streams.simulator.fleet import FleetRun  # noqa: E402
from streams.stack.manager import LocalStack  # noqa: E402

STEP_MS = 15_000
START_MS = 1_767_225_600_000


def fleet_for(clusters: int, per_cluster: int, seed: int) -> tuple[FleetRun, int, float]:
    """The smallest worker count whose fleet reaches ``clusters * per_cluster`` series."""
    workers = 3
    while True:
        t0 = time.perf_counter()
        run = FleetRun.create(clusters=clusters, seed=seed, start_ms=START_MS, step_ms=STEP_MS,
                              speed=0, specs=load_schedule("all-kinds"), workers=workers)
        series = sum(s.series_count for s in run.sims)
        if series >= clusters * per_cluster:
            return run, workers, time.perf_counter() - t0
        workers = max(workers + 1, int(workers * clusters * per_cluster / series) + 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clusters", type=int, default=100)
    ap.add_argument("--series", type=int, default=10_000, help="series per cluster (mean)")
    ap.add_argument("--ticks", type=int, default=8)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiops-bench-sim-") as tmp:
        settings = Settings(data_dir=Path(tmp), kafka_bootstrap=None, clickhouse_url=None,
                            kafka_port=0, clickhouse_http_port=0, clickhouse_tcp_port=0)
        stack = LocalStack(settings)
        try:
            stack.up(timeout=240)
            bootstrap = stack.kafka_bootstrap()
            admin.apply(bootstrap)
            run, workers, build_s = fleet_for(args.clusters, args.series, args.seed)
            series = sum(s.series_count for s in run.sims)
            print(f"fleet: {args.clusters} clusters, {workers} workers each, {series} series, "
                  f"built in {build_s:.1f}s", file=sys.stderr)
            run.emitters = [DirectEmitter(bootstrap)]
            stats = run.run(ticks=args.ticks)
        finally:
            stack.down()
    wall = stats["wall_s"]
    per_tick = wall / args.ticks
    result = {
        "clusters": args.clusters, "series": series, "series_per_cluster": round(
            series / args.clusters), "workers_per_cluster": workers, "ticks": args.ticks,
        "samples": stats["samples"], "messages": stats["messages"],
        "mbytes": round(stats["bytes"] / 1e6, 1), "gpu_samples": stats["gpu_samples"],
        "spans": stats["spans"], "logs": stats["logs"], "wall_s": wall,
        "samples_per_s": round(stats["samples"] / wall), "tick_wall_s": round(per_tick, 3),
        "realtime_headroom": round(STEP_MS / 1000 / per_tick, 1),
        "fleet_build_s": round(build_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
