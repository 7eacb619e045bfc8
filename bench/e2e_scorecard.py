"""The main job at scale: a seeded demo end to end on a large fleet, scored.

Runs ``python -m streams.demo`` on a private local stack (temp data dir, free ports): ``aiops up``
with every registered component, the simulator in direct mode on ``--clusters`` clusters (100 by
default), drain, scorecard. Stops everything at the end. The default schedule,
``fleet-every-kind``, injects every fault kind three times, each on a cluster of its own, within
11 simulated minutes after the detectors' warm-up (21 simulated minutes in all, ~13M samples on
100 clusters); ``all-kinds`` runs the kinds one after another (94 minutes, ~60M samples).
Last line: the headline figures ``detected_ratio``, ``top1_ratio``, ``top3_ratio``,
``false_incidents_per_hour``, ``rows_lost``, ``dead_letters``, ``samples_per_s``,
``lag_p99_s`` and its split per component (which one holds the run up), per kind, plus the
run's parameters; ``--card`` keeps the whole scorecard JSON (per fault).

Usage: ``python bench/e2e_scorecard.py [--clusters 100] [--speed 0] [--seed 11]
[--schedule fleet-every-kind] [--drain-timeout 1800] [--card card.json] [--html card.html]``.
Speed 0 runs the simulator as fast as it can; the pipeline then works through the backlog
(lag is part of the figures).
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

REPO = Path(__file__).resolve().parents[1]
KEYS = ("detected_ratio", "detected_by_anomaly_ratio", "top1_ratio", "top3_ratio",
        "false_incidents", "fault_free_hours", "false_incidents_per_hour",
        "mean_anomaly_time_to_detect_s", "rows_lost", "dead_letters", "samples_per_s",
        "lag_p99_s", "lag_p99_s_by_component", "by_kind")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clusters", type=int, default=100)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--schedule", default="fleet-every-kind")
    p.add_argument("--speed", type=float, default=0.0)
    p.add_argument("--drain-timeout", type=float, default=1800.0)
    p.add_argument("--html", type=Path, default=None, help="Keep the HTML report here.")
    p.add_argument("--card", type=Path, default=None, help="Keep the scorecard JSON here.")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiops-e2e-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
        env.update(AIOPS_DATA_DIR=str(Path(tmp) / "data"), AIOPS_KAFKA_PORT="0",
                   AIOPS_CLICKHOUSE_HTTP_PORT="0", AIOPS_CLICKHOUSE_TCP_PORT="0",
                   AIOPS_LOG_LEVEL="WARNING")
        if os.environ.get("AIOPS_CACHE_DIR"):
            env["AIOPS_CACHE_DIR"] = os.environ["AIOPS_CACHE_DIR"]
        html = args.html or Path(tmp) / "scorecard.html"
        cmd = [sys.executable, "-m", "streams.demo", "--free-ports", "--no-live", "--json",
               "--down", "--clusters", str(args.clusters), "--seed", str(args.seed),
               "--schedule", args.schedule, "--speed", str(args.speed),
               "--drain-timeout", str(args.drain_timeout), "--html", str(html)]
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                                  check=False)
        finally:
            subprocess.run([sys.executable, "-m", "streams.cli", "down"], cwd=REPO, env=env,
                           capture_output=True, check=False)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-6000:])
            raise SystemExit(proc.returncode)
        card = json.loads(proc.stdout.strip().splitlines()[-1])
    if args.card:
        args.card.write_text(json.dumps(card, indent=1))
    out = {k: card.get(k) for k in KEYS}
    out.update(clusters=args.clusters, schedule=args.schedule, seed=args.seed, speed=args.speed,
               faults=card.get("faults"), incidents=card.get("incidents"),
               samples_produced=card.get("samples_produced"), drained=card.get("drained"),
               skipped=card.get("skipped"), bench_wall_s=round(time.monotonic() - started, 1))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
