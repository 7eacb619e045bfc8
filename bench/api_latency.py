"""Query API latency: a dashboard range query over 10M+ raw rows and the fleet summary.

Starts a private stack, generates metric history inside ClickHouse (``INSERT ...
SELECT FROM numbers``: 100 clusters x 20 series x 4 metrics x 6 h at 15 s, so the
rollups are filled by their materialised views as in production), registers 1,000
clusters on the registry topic, serves the API with uvicorn, and times sequential
requests with a bearer token; ``query_only_*`` times the same query's data access
without HTTP (series lookup, ClickHouse, points), so the API's share is the
difference. Prints one JSON object on its last line.

    .venv/bin/python bench/api_latency.py [--requests 200] [--clusters 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import create_app  # noqa: E402
from api.auth.principal import Role  # noqa: E402
from api.db import ClickHousePool  # noqa: E402
from api.queries import metrics  # noqa: E402
from api.registry import Registry  # noqa: E402
from api.services import build_services  # noqa: E402
from bench.api_harness import migrate_api, serve  # noqa: E402
from bench.stack import private_stack  # noqa: E402
from connectors.clickhouse.client import connect  # noqa: E402
from connectors.sinks.metric_rollups import build_rollups  # noqa: E402

DB = "aiops"
SERIES = 20
METRICS = 4
STEP_S = 15
HOURS = 6


def generate(url: str, clusters: int) -> int:
    """Write the raw history and (as the sink's builder does) the rollups; returns raw rows."""
    client = connect(url, DB)
    per_series = HOURS * 3600 // STEP_S
    series = clusters * SERIES * METRICS
    sid = "reinterpretAsInt64(cityHash64(c, m, s))"
    client.command(
        "INSERT INTO series (cluster, name, series_id, labels, type, seen) "
        f"SELECT c, m, {sid}, map('instance', concat('n', toString(s)), 'job', 'node'), "
        "'GAUGE', now64(3) FROM (SELECT concat('c', toString(intDiv(number, "
        f"{SERIES * METRICS}))) AS c, concat('m', toString(intDiv(number, {SERIES}) % "
        f"{METRICS})) AS m, number % {SERIES} AS s FROM numbers({series}))")
    start = int(time.time()) - HOURS * 3600
    client.command(
        "INSERT INTO metrics (cluster, name, series_id, timestamp, value, type) "
        f"SELECT c, m, {sid}, toDateTime64({start} + i * {STEP_S}, 3, 'UTC'), "
        "50 + 20 * sin(i / 40 + s) + (cityHash64(i, s) % 100) / 20, 'GAUGE' FROM ("
        f"SELECT intDiv(number, {per_series}) AS k, number % {per_series} AS i, "
        f"concat('c', toString(intDiv(k, {SERIES * METRICS}))) AS c, "
        f"concat('m', toString(intDiv(k, {SERIES}) % {METRICS})) AS m, k % {SERIES} AS s "
        f"FROM numbers({series * per_series}))",
        settings={"max_insert_threads": 2, "max_block_size": 1_000_000,
                  "min_insert_block_size_rows": 1_000_000})
    build_rollups(lambda: client, DB, max_slices=10_000, max_blocks=1)
    return int(client.query("SELECT count() FROM metrics").result_rows[0][0])


def settle_merges(url: str, timeout_s: float = 180.0) -> None:
    """Let the bulk load's background merges finish (steady state, not the load spike)."""
    client = connect(url, DB)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and client.query(
            "SELECT count() FROM system.merges").result_rows[0][0]:
        time.sleep(1)


def register(bootstrap: str, topic_clusters: int) -> None:
    registry = Registry(bootstrap, None)
    now = int(time.time() * 1000)
    for i in range(topic_clusters):
        registry.put({
            "cluster_id": f"id-{i}", "name": f"fleet-{i:04d}",
            "type": ("HUB", "SPOKE", "EDGE", "FAR_EDGE")[i % 4], "platform": "OPENSHIFT",
            "version": "4.16", "region": f"r{i % 7}",
            "environment": ("production", "staging", "lab")[i % 3], "labels": {},
            "endpoints": {}, "capabilities": {"gpu_count": 8 if i % 5 == 0 else 0,
                                              "has_ptp": i % 9 == 0},
            "status": "ONLINE", "health_score": 0.8 + (i % 20) / 100,
            "last_seen": now - (200_000 if i % 50 == 0 else 1000), "record_version": now})
    registry.stop()


def timed(client: httpx.Client, path: str, params: dict, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path, params=params)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{path}: {r.status_code} {r.text[:300]}")
    return out


def timed_query(pool: ClickHousePool, clusters: list[str], n: int) -> list[float]:
    """The dashboard query's data access alone (series lookup, ClickHouse, points)."""
    out = []
    for _ in range(n):
        end = int(time.time() * 1000)
        t0 = time.perf_counter()
        metrics.range_query(pool, name="m0", clusters=clusters, matchers=[],
                            start_ms=end - HOURS * 3600 * 1000, end_ms=end, step_s=60,
                            agg="avg", by=["cluster"])
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p95(values: list[float]) -> float:
    return round(statistics.quantiles(values, n=100)[94], 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clusters", type=int, default=100, help="Clusters with metric history")
    ap.add_argument("--fleet", type=int, default=1000, help="Clusters in the registry")
    args = ap.parse_args()
    with private_stack() as (stack, settings, tmp):
        url, bootstrap = stack.clickhouse_url(), stack.kafka_bootstrap()
        migrate_api(url, DB, tmp)
        t0 = time.perf_counter()
        rows = generate(url, args.clusters)
        load_s = time.perf_counter() - t0
        register(bootstrap, args.fleet)
        print(f"loaded {rows} raw rows in {load_s:.1f}s", file=sys.stderr)
        settle_merges(url)
        # latency, not the limiter, is measured: lift the per-token limits
        settings = settings.model_copy(update={"api_rate_limit_per_min": 10**9,
                                               "api_expensive_rate_limit_per_min": 10**9})
        services = build_services(settings, bootstrap, url, relay=False)
        token, _ = services.tokens.create("bench", Role.VIEWER)
        app = create_app(settings, services)
        with serve(app) as base, httpx.Client(base_url=base, trust_env=False, timeout=30,
                                              headers={"Authorization": f"Bearer {token}"}) as c:
            dash = {"name": "m0", "cluster": [f"c{i}" for i in range(10)], "step": 60,
                    "by": "cluster", "start": time.strftime(
                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - HOURS * 3600))}
            first = c.get("/api/v1/metrics/query_range", params=dash).json()
            points = sum(len(s["points"]) for s in first["series"])
            timed(c, "/api/v1/metrics/query_range", dash, 10)  # warm-up
            dash_ms = timed(c, "/api/v1/metrics/query_range", dash, args.requests)
            summary = c.get("/api/v1/fleet/summary").json()
            timed(c, "/api/v1/fleet/summary", {}, 10)
            fleet_ms = timed(c, "/api/v1/fleet/summary", {}, args.requests)
            # the same query without HTTP/FastAPI: where the time goes
            query_ms = timed_query(services.pool, dash["cluster"], args.requests)
    print(json.dumps({
        "raw_rows": rows, "load_s": round(load_s, 1), "dashboard_series": len(first["series"]),
        "dashboard_points": points, "dashboard_resolution": first["resolution"],
        "requests": args.requests, "p50_ms": round(statistics.median(dash_ms), 2),
        "p95_ms": p95(dash_ms), "load_average_1m": os.getloadavg()[0],
        "fleet_clusters": summary["clusters"],
        "fleet_offline": summary["by_state"]["OFFLINE"],
        "fleet_summary_p50_ms": round(statistics.median(fleet_ms), 2),
        "fleet_summary_p95_ms": p95(fleet_ms),
        "query_only_p50_ms": round(statistics.median(query_ms), 2),
        "query_only_p95_ms": p95(query_ms)}))


if __name__ == "__main__":
    main()
