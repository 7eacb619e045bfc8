"""Delivery throughput and latency of `aiops notify` to a local webhook receiver.

Starts a private local stack (Kafka + ClickHouse, temp dir, free ports) and a threaded
HTTP receiver, then runs one in-process notifier routing every incident to two endpoints
(a signed generic-JSON webhook and an Alertmanager-v4 webhook):

1. **burst**: ``--burst`` incidents pre-produced to ``aiops.incidents``; deliveries/s from
   the worker's start to the last delivery (each attempt logged in ClickHouse);
2. **steady**: ``--rate`` incidents/s for ``--seconds``; latency = receipt at the webhook
   - produce time, per delivery (p50/p99).

Last line: JSON with ``burst_deliveries_per_s``, ``steady_latency_p50_ms``,
``steady_latency_p99_ms``, ``attempts_logged``.

Usage: ``python bench/notify_delivery.py [--burst 1000 --rate 20 --seconds 15]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import private_stack  # noqa: E402
from connectors.clickhouse.client import connect  # noqa: E402
from connectors.clickhouse.migrations import migrate  # noqa: E402
from connectors.notify.delivery import RetryPolicy  # noqa: E402
from schemas.codec import Codec  # noqa: E402
from streams.kafka import admin  # noqa: E402
from streams.kafka.clients import make_producer  # noqa: E402
from streams.notify.worker import NotifyConfig, NotifyWorker  # noqa: E402
from tests.notify.receiver import scripted_receiver  # noqa: E402
from tests.notify.records import incident  # noqa: E402

DATABASE = "bench_notify"
CLUSTER = "bench"


def produce(bootstrap: str, ids: list[str], rate: float | None = None) -> dict[str, float]:
    """Produce OPEN incidents; returns incident id -> produce time."""
    producer, codec = make_producer(bootstrap, **{"linger.ms": 1}), Codec("incident")
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for i, ident in enumerate(ids):
        if rate:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        sent[ident] = time.time()
        producer.produce("aiops.incidents", key=ident.encode(),
                         value=codec.encode(incident(CLUSTER, ident)))
        producer.poll(0)
    producer.flush(30)
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    with private_stack(prefix="aiops-bench-notify-") as (stack, _settings, tmp):
        result = run(stack.kafka_bootstrap(), stack.clickhouse_url(), tmp, args)
    print(json.dumps(result))


def run(bootstrap: str, url: str, tmp: Path, args: argparse.Namespace) -> dict:
    admin.apply(bootstrap)
    client = connect(url)
    migrate(client, DATABASE)
    os.environ["AIOPS_BENCH_NOTIFY_SECRET"] = "bench-secret"
    with scripted_receiver(["ok"]) as rx:
        routes = tmp / "routes.yaml"
        routes.write_text(f"""
endpoints:
  - {{name: json, url: "{rx.url}", secret_env: AIOPS_BENCH_NOTIFY_SECRET}}
  - {{name: am, url: "{rx.url}", format: alertmanager}}
routes: [{{name: all, match: {{cluster: [{CLUSTER}]}}, endpoints: [json, am]}}]
""")
        burst_ids = [f"b-{i}" for i in range(args.burst)]
        produce(bootstrap, burst_ids)
        worker = NotifyWorker(bootstrap, url, DATABASE, NotifyConfig(
            group="bench-notify", routes_path=routes, retry=RetryPolicy(8, 0.5, 5.0)))
        thread = threading.Thread(target=worker.run, kwargs={"idle_poll_s": 0.05}, daemon=True)
        t0 = time.perf_counter()
        thread.start()
        want = 2 * args.burst
        while len(rx.accepted()) < want and time.perf_counter() - t0 < 600:
            time.sleep(0.05)
        burst_s = time.perf_counter() - t0
        burst_done = len(rx.accepted())

        steady_ids = [f"s-{i}" for i in range(int(args.rate * args.seconds))]
        sent = produce(bootstrap, steady_ids, rate=args.rate)
        want += 2 * len(steady_ids)
        deadline = time.perf_counter() + 60
        while len(rx.accepted()) < want and time.perf_counter() < deadline:
            time.sleep(0.05)
        worker.stop()
        thread.join(30)
        lat = []
        for r in rx.accepted()[burst_done:]:
            doc = r.json()
            ident = doc["incident"]["incident_id"] if "incident" in doc else \
                doc["alerts"][0]["labels"]["incident_id"]
            if ident in sent:
                lat.append((r.at - sent[ident]) * 1000)
        lat.sort()
    attempts = client.query(f"SELECT count() FROM {DATABASE}.notification_attempts").result_rows
    return {
        "burst_incidents": args.burst, "burst_deliveries": burst_done,
        "burst_seconds": round(burst_s, 2),
        "burst_deliveries_per_s": round(burst_done / burst_s, 1),
        "steady_rate_per_s": args.rate, "steady_deliveries": len(lat),
        "steady_latency_p50_ms": round(lat[len(lat) // 2], 1) if lat else None,
        "steady_latency_p99_ms": round(lat[int(len(lat) * 0.99)], 1) if lat else None,
        "attempts_logged": attempts[0][0], "duplicates": len(rx.accepted()) - want,
    }


if __name__ == "__main__":
    main()
