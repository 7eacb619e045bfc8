"""Every Grafana panel against ClickHouse loaded with simulated fleet data, through the pipeline.

Starts a private stack (temp data dir, free ports) with the sink, detect, correlate and rca
workers, runs a short seeded fleet (``--clusters``, a fault schedule touching services, GPUs and
PTP clocks) at ``--speed``, waits for the pipeline to catch up, then runs every dashboard panel's
SQL (macros expanded, the dashboard's default time range, template variables resolved from the
data as Grafana does on load) ``--repeat`` times. A panel is ok when its query runs, returns the
column shape its panel type needs and returns rows. Stops everything at the end.

Last line: JSON with ``panels_ok``, ``panels_failed``, ``panels_total``, ``failed`` (names and
reasons), panel query ``p50_ms``/``p95_ms``/``max_ms``, ``rows_loaded`` (per table),
``samples``, ``load_s``, ``dead_letters`` (by component and stage: only the one corrupt record
is expected) and ``kept`` (the data dir with every component's log, kept when a panel failed).

Usage: ``python bench/grafana_panels.py [--clusters 4] [--seed 7] [--speed 30] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from connectors.clickhouse.grafana import check_dashboards  # noqa: E402
from streams.demo.fleet_load import DEFAULT_SCHEDULE, LoadSpec, loaded_fleet  # noqa: E402
from streams.scorecard.pipeline import percentile  # noqa: E402
from streams.settings import Settings  # noqa: E402

DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
TABLES = ("metrics", "gpu", "logs", "spans", "service_edges", "alerts", "anomalies", "incidents",
          "rca_reports", "clusters", "dead_letters")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clusters", type=int, default=4)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--speed", type=float, default=30.0)
    p.add_argument("--repeat", type=int, default=3, help="Runs of the whole panel check.")
    p.add_argument("--keep", action="store_true",
                   help="Keep the data dir (logs, stack) even when every panel passed.")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="aiops-bench-grafana-"))
    settings = Settings(data_dir=tmp / "data", kafka_bootstrap=None, clickhouse_url=None,
                        kafka_port=0, clickhouse_http_port=0, clickhouse_tcp_port=0,
                        kafka_heap="512m", log_level="WARNING")
    spec = LoadSpec(clusters=args.clusters, seed=args.seed, speed=args.speed)
    runs: list = []
    try:
        with loaded_fleet(settings, spec) as load:
            client = load.client()
            rows = {t: int(client.query(f"SELECT count() FROM {t}").first_row[0])
                    for t in TABLES}
            dead = client.query(
                "SELECT component, stage, error_type, count(), any(error) FROM dead_letters "
                "GROUP BY component, stage, error_type ORDER BY count() DESC").result_rows
            for _ in range(max(1, args.repeat)):
                runs.append(check_dashboards(client, DASHBOARDS))
    finally:
        keep = args.keep or not runs or not all(r.ok for r in runs[-1])
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    last = runs[-1]
    ms = [r.ms for run in runs for r in run]
    failed = [f"{r.dashboard} / {r.panel}: {r.error[:200]}" for r in last if not r.ok]
    print(json.dumps({
        "panels_ok": sum(r.ok for r in last), "panels_failed": len(failed),
        "panels_total": len(last), "failed": failed,
        "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(percentile(ms, 95) or 0, 1),
        "max_ms": round(max(ms), 1), "rows_returned": sum(r.rows for r in last),
        "rows_loaded": rows, "samples": load.samples, "load_s": load.wall_s,
        "load_phases_s": load.phases,
        "behind": load.behind, "dead_letters": [
            {"component": d[0], "stage": d[1], "error_type": d[2], "count": d[3],
             "error": d[4][:160]} for d in dead],
        "kept": str(tmp) if keep else None, "clusters": args.clusters, "seed": args.seed,
        "speed": args.speed, "schedule": list(DEFAULT_SCHEDULE), "repeat": args.repeat,
    }))


if __name__ == "__main__":
    main()
