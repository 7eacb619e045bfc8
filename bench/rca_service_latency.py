"""Incident -> RcaReport latency through the full ``aiops rca`` worker path (no LLM).

Starts a private Kafka + ClickHouse, writes the history of an incident with 1,000 related
series (the synthetic incidents of ``bench/rca_latency.py``: 60 services on a layered call
graph, pod resource/latency/error and edge anomalies) into ClickHouse, then publishes
incident versions one at a time and times each from produce to the RcaReport arriving on
aiops.rca: Kafka both ways, the ClickHouse reads (members, edges, log templates),
ranking, the template explanation and the Avro encoding.

Usage: ``python bench/rca_service_latency.py [--series 1000] [--runs 30]``; last line JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rca_latency import incident as synthetic  # noqa: E402

from connectors.clickhouse.client import connect  # noqa: E402
from connectors.clickhouse.migrations import MIGRATIONS_DIR, migrate  # noqa: E402
from schemas.codec import Codec  # noqa: E402
from streams.kafka import admin  # noqa: E402
from streams.kafka.clients import make_consumer, make_producer  # noqa: E402
from streams.rca_service.telemetry import RcaTelemetry  # noqa: E402
from streams.rca_service.worker import RcaWorker  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.stack.manager import LocalStack  # noqa: E402
from tests.rca_service.data import insert_anomalies  # noqa: E402

DB = "bench_rca"
#: History and results tables only (later migrations are not needed here).
MIGRATIONS = ("0001", "0002", "0003", "0004", "0005", "0006")


def _history(clickhouse_url: str, series: int, tmp: Path) -> list[dict]:
    """Write one synthetic incident's anomalies and edges; its Anomaly dicts."""
    scratch = tmp / "migrations"
    scratch.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if path.name[:4] in MIGRATIONS:
            shutil.copy(path, scratch / path.name)
    client = connect(clickhouse_url)
    client.command(f"CREATE DATABASE IF NOT EXISTS {DB}")
    migrate(client, DB, scratch)
    ctx = synthetic(0, series)
    now = int(time.time() * 1000) - 600_000
    shift = now - min(a["start_ts"] for a in ctx.anomalies)
    anomalies = []
    for a in ctx.anomalies:
        a = dict(a, start_ts=a["start_ts"] + shift, sample_ts=a["sample_ts"] + shift,
                 detected_ts=a["detected_ts"] + shift, rule="")
        anomalies.append(a)
    insert_anomalies(client, DB, anomalies)
    minute = now // 60_000 * 60
    client.insert(f"{DB}.service_edges",
                  [[minute, "c1", e.caller, e.callee, int(e.call_rate * 60), 0, 10**9]
                   for e in ctx.edges],
                  column_names=["timestamp", "cluster", "parent_service", "child_service",
                                "calls", "errors", "duration_ns_sum"])
    client.close()
    return anomalies


def _incident(iid: str, anomalies: list[dict]) -> dict:
    services = sorted({a["labels"]["service"] for a in anomalies if "service" in a["labels"]})
    return {"incident_id": iid, "cluster": "c1", "status": "OPEN", "severity": "HIGH",
            "title": "bench", "opened_ts": min(a["start_ts"] for a in anomalies),
            "updated_ts": max(a["start_ts"] for a in anomalies), "resolved_ts": None,
            "anomaly_ids": [a["anomaly_id"] for a in anomalies], "alert_fingerprints": [],
            "entities": [], "namespaces": ["shop"], "services": services, "nodes": [],
            "summary": "bench", "version": 1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiops-bench-rca-") as tmp:
        values: dict = dict(data_dir=Path(tmp), kafka_bootstrap=None, clickhouse_url=None,
                            kafka_port=0, clickhouse_http_port=0, clickhouse_tcp_port=0,
                            kafka_heap="512m")
        if os.environ.get("AIOPS_CACHE_DIR"):
            values["cache_dir"] = Path(os.environ["AIOPS_CACHE_DIR"])
        stack = LocalStack(Settings(**values))
        stack.up(timeout=180)
        try:
            bootstrap, ch = stack.kafka_bootstrap(), stack.clickhouse_url()
            admin.apply(bootstrap)
            anomalies = _history(ch, args.series, Path(tmp))
            settings = Settings(clickhouse_database=DB, llm_providers="",
                                rca_history_wait_s=0.0)
            telemetry = RcaTelemetry()
            worker = RcaWorker(settings, bootstrap, ch, telemetry=telemetry,
                               group="bench-rca")
            thread = threading.Thread(target=worker.run, daemon=True)
            thread.start()
            producer = make_producer(bootstrap, **{"linger.ms": 0})
            reader = make_consumer(bootstrap, "bench-rca-reader", **{"auto.offset.reset":
                                                                     "latest"})
            reader.subscribe(["aiops.rca"])
            reader.consume(1, timeout=3.0)  # join the group before timing
            enc, dec = Codec("incident"), Codec("rca_report")
            times, causes, worker_ms = [], 0, []
            for run in range(args.runs + 2):  # two warm-up runs
                iid = f"inc-bench-{run}"
                started = time.perf_counter()
                producer.produce("aiops.incidents", key=iid.encode(),
                                 value=enc.encode(_incident(iid, anomalies)))
                producer.flush(10)
                report = None
                while report is None and time.perf_counter() - started < 30:
                    for msg in reader.consume(10, timeout=0.1):
                        if msg.error() is None:
                            rec = dec.decode(msg.value())
                            if rec["incident_id"] == iid:
                                report = rec
                if report is None:
                    raise SystemExit(f"no report for {iid} within 30 s")
                if run >= 2:
                    times.append(time.perf_counter() - started)
                    worker_ms.append(report["latency_ms"])
                    causes = len(report["causes"])
            stages = {stage: round(1000 * telemetry.registry.get_sample_value(
                "aiops_rca_analysis_seconds_sum", {"stage": stage}) / (args.runs + 2), 1)
                for stage in ("history", "rank", "explain")}
            worker.stop()
            thread.join(30)
            reader.close()
        finally:
            stack.down()
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    worker_ms.sort()
    print(json.dumps({
        "series": args.series, "runs": args.runs, "causes": causes,
        "p50_s": round(statistics.median(times), 4), "p95_s": round(p95, 4),
        "max_s": round(times[-1], 4),
        "worker_p95_s": round(worker_ms[int(round(0.95 * (len(worker_ms) - 1)))] / 1000, 4),
        "stage_mean_ms": stages, "load_1m": round(os.getloadavg()[0], 1),
        "target_p95_s": 2.0}))


if __name__ == "__main__":
    main()
