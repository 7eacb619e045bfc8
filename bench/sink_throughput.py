"""Kafka -> ClickHouse throughput, end-to-end lag and storage per sample of `aiops sink`.

Starts a private local stack (Kafka + ClickHouse, temp dir, free ports), then:

1. **throughput**: pre-produces a simulated fleet (``--series`` series in MetricBatches of
   ``--per-msg`` samples, ``--scrapes`` scrapes 15 s apart) to ``aiops.metrics`` and times one
   in-process sink draining it (first insert to last; default batching: 100k rows / 1 s);
2. **lag**: a producer process sends the fleet's next scrapes at ``--lag-rate`` rows/s for
   ``--lag-seconds``; lag = insert acknowledged (rows queryable) - Kafka CreateTime, per message;
3. **storage**: ``OPTIMIZE ... FINAL`` then compressed bytes / rows of ``metrics`` from
   ``system.parts`` (phase-1 data; columns broken down from ``system.columns``).

The sink runs the rollup builders as ``aiops sink`` does (``--rollup-interval`` /
``--rollup-1h-interval`` seconds, default 15 / 30: shorter than the shipped 60 / 600 s so
each phase sees several slices, which costs more per sample). CPU-seconds
per million rows of the sink, ClickHouse and Kafka processes are reported for phase 1
(``cpu_s_per_million_rows``, from the first insert until the rollups caught up with the
last one; their sum is the number of cores 1M rows/s needs, ``cores_for_1m_rows_per_s``;
``insert_cpu_s_per_million_rows`` stops at the last insert) and for phase 2
(``steady_cpu_s_per_million_rows``: 1 s batches that bring each series about once, again
through the rollups catching up). ``rollup_catch_up_s``: last insert to rollups complete;
``rollup_lag_max_s``: the largest ``aiops_sink_rollup_lag_seconds`` seen in phase 2;
``idle_cpu_s_per_s``: ClickHouse and Kafka CPU per second while idle (5 s before phase 1),
which the windows that wait for the rollups include.

Fleet values: 30 % constant/boolean, 30 % integer counters, 20 % integer gauges (bytes),
20 % float gauges (random walk, 3 decimals); labels as kube-state/kubelet series carry.
Last line: JSON with ``rows_per_s``, ``lag_p50_s``, ``lag_p99_s``, ``bytes_per_sample``.

Usage: ``python bench/sink_throughput.py [--series 20000 --scrapes 100 --lag-rate 50000]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.clickhouse.client import connect  # noqa: E402
from schemas.batches import metric_batch  # noqa: E402
from schemas.codec import Codec  # noqa: E402
from schemas.topics import topic_by_name  # noqa: E402
from streams.kafka import admin  # noqa: E402
from streams.kafka.clients import make_producer  # noqa: E402
from streams.logs_setup import configure_logging  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.sink.telemetry import SinkTelemetry  # noqa: E402
from streams.sink.worker import SinkWorker  # noqa: E402
from streams.stack.manager import LocalStack  # noqa: E402

TOPIC = "aiops.metrics"
DATABASE = "bench"
STEP_MS = 15_000
NAMES = [f"{p}_{i}" for p in ("container_cpu_usage_seconds_total", "container_memory_rss",
                               "kube_pod_status_ready", "node_network_receive_bytes_total",
                               "DCGM_FI_DEV_GPU_UTIL") for i in range(10)]


class Fleet:
    """Simulated series: identity, labels and a value model per series."""

    def __init__(self, series: int, per_msg: int, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.per_msg = per_msg
        self.targets = []
        for t in range(series // per_msg):
            node = f"worker-{t % 64:03d}"
            names, labels = [], []
            for j in range(per_msg):
                i = t * per_msg + j
                names.append(NAMES[i % len(NAMES)])
                labels.append({"namespace": f"team-{i % 40}", "pod": f"app-{i % 997}-7f9c8d",
                               "container": f"c{i % 3}", "node": node, "job": "kubelet",
                               "instance": f"10.128.{t % 64}.{j % 250}:10250",
                               "cluster": f"prod-{t % 4}"})
            self.targets.append((f"prod-{t % 4}", f"{node}/kubelet-{t}", names, labels))
        n = len(self.targets) * per_msg
        self.kind = rng.choice(4, size=n, p=[0.3, 0.3, 0.2, 0.2])
        self.level = np.where(self.kind == 2, rng.integers(10**6, 10**9, n), rng.random(n) * 100)
        self.rate = rng.integers(1, 5000, n)
        self.rng = rng

    def step(self) -> np.ndarray:
        """Advance every series one scrape; the values."""
        n = len(self.kind)
        walk = self.rng.normal(0, 1, n)
        self.level = np.where(self.kind == 1, self.level + self.rate, self.level)
        self.level = np.where(self.kind == 2, self.level + np.round(walk * 4096), self.level)
        self.level = np.where(self.kind == 3, np.round(self.level + walk, 3), self.level)
        return np.where(self.kind == 0, (self.level > 50).astype(float), self.level)

    def payloads(self, scrape_ts: int) -> list[tuple[bytes, bytes]]:
        """(key, MetricBatch payload) for every target at ``scrape_ts``."""
        codec = Codec("metric_batch")
        values = self.step()
        out = []
        for t, (cluster, target, names, labels) in enumerate(self.targets):
            vals = values[t * self.per_msg:(t + 1) * self.per_msg].tolist()
            batch = metric_batch(cluster, "simulator", target, scrape_ts, names=names,
                                 labels=labels, values=vals, timestamps=[scrape_ts] * len(vals),
                                 types=["GAUGE"] * len(vals))
            out.append((f"{cluster}/{target}".encode(), codec.encode(batch)))
        return out


def produce(bootstrap: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = make_producer(bootstrap)
    for key, value in messages:
        while True:
            try:
                producer.produce(TOPIC, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(120)


def steady_producer(bootstrap: str, rounds: list[list[tuple[bytes, bytes]]], rows_per_msg: int,
                    rate: float, seconds: float) -> None:
    """Send ``rounds`` (pre-encoded) at ``rate`` rows/s for ``seconds`` (cycling rounds)."""
    producer = make_producer(bootstrap, **{"linger.ms": 5})
    per_s = rate / rows_per_msg
    start = time.monotonic()
    sent = 0
    flat = [m for r in rounds for m in r]
    while time.monotonic() - start < seconds:
        key, value = flat[sent % len(flat)]
        producer.produce(TOPIC, key=key, value=value)
        sent += 1
        producer.poll(0)
        ahead = start + sent / per_s - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    producer.flush(60)


def wait_rows(telemetry: SinkTelemetry, want: float, timeout: float,
              ) -> tuple[float, int, float]:
    """(time of the first insert, rows it brought, time ``want`` rows were inserted)."""
    deadline = time.monotonic() + timeout
    first, first_rows = 0.0, 0
    while time.monotonic() < deadline:
        rows = telemetry.rows_total
        if rows and not first:
            first, first_rows = time.monotonic(), rows
        if rows >= want:
            return first, first_rows, time.monotonic()
        time.sleep(0.01)
    raise TimeoutError(f"only {telemetry.rows_total} of {want} rows after {timeout}s")


def wait_rollups(telemetry: SinkTelemetry, since: float, timeout: float = 300) -> float:
    """Wait until runs of both builders started after ``since`` (wall clock) left nothing
    unbuilt; when."""
    deadline = time.monotonic() + timeout
    while min((telemetry.rollup_caught_up.get(t, 0.0) for t in ("metrics_1m", "metrics_1h")),
              ) < since:
        if time.monotonic() > deadline:
            raise TimeoutError(f"rollups not caught up after {timeout}s")
        time.sleep(0.05)
    return time.time()


def rollup_lag(telemetry: SinkTelemetry, table: str = "metrics_1m") -> float:
    """``aiops_sink_rollup_lag_seconds{table}`` now (0 before the builder's first run)."""
    for metric in telemetry.rollup_lag_seconds.collect():
        return max((s.value for s in metric.samples if s.labels["table"] == table),
                   default=0.0)
    return 0.0


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    if not pid:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def storage(url: str) -> dict[str, float]:
    client = connect(url)
    client.command(f"OPTIMIZE TABLE {DATABASE}.metrics FINAL")
    rows, compressed, raw = client.query(
        "SELECT sum(rows), sum(data_compressed_bytes), sum(data_uncompressed_bytes) "
        "FROM system.parts WHERE active AND database = {db:String} AND table = 'metrics'",
        parameters={"db": DATABASE}).result_rows[0]
    cols = client.query(
        "SELECT name, data_compressed_bytes FROM system.columns "
        "WHERE database = {db:String} AND table = 'metrics'", parameters={"db": DATABASE}
    ).result_rows
    return {"rows": int(rows), "bytes_per_sample": round(compressed / rows, 3),
            "uncompressed_bytes_per_sample": round(raw / rows, 1),
            "column_bytes_per_sample": {n: round(b / rows, 3) for n, b in cols}}


def main() -> None:
    configure_logging("WARNING")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=20_000)
    parser.add_argument("--per-msg", type=int, default=500)
    parser.add_argument("--scrapes", type=int, default=100)
    parser.add_argument("--lag-rate", type=float, default=50_000, help="rows/s in phase 2")
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--rollup-interval", type=float, default=15.0,
                        help="seconds between metrics_1m builder runs (0: no builder)")
    parser.add_argument("--rollup-1h-interval", type=float, default=30.0,
                        help="seconds between metrics_1h builder runs (0: no builder)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aiops-bench-sink-") as tmp:
        stack = LocalStack(Settings(data_dir=Path(tmp), kafka_bootstrap=None, clickhouse_url=None,
                                    kafka_port=0, clickhouse_http_port=0, clickhouse_tcp_port=0))
        try:
            stack.up(timeout=180)
            state = stack.load_state()
            result = run(stack.kafka_bootstrap(), stack.clickhouse_url(), args,
                         {"clickhouse": state.clickhouse_pid, "kafka": state.kafka_pid})
        finally:
            stack.down()
    print(json.dumps(result))


def run(bootstrap: str, url: str, args: argparse.Namespace, pids: dict[str, int | None],
        ) -> dict:
    admin.apply(bootstrap, (topic_by_name(TOPIC), topic_by_name("aiops.deadletter")))
    fleet = Fleet(args.series, args.per_msg)
    start_ts = int(time.time() * 1000) - (args.scrapes + 10) * STEP_MS
    t0 = time.perf_counter()
    messages = [m for s in range(args.scrapes) for m in fleet.payloads(start_ts + s * STEP_MS)]
    encode_s = time.perf_counter() - t0
    rows = len(messages) * args.per_msg
    produce(bootstrap, messages)
    del messages

    telemetry = SinkTelemetry(keep_lags=2_000_000)
    worker = SinkWorker(bootstrap, url, DATABASE, {TOPIC: "metric_batch"}, group="bench-sink",
                        telemetry=telemetry, rollup_interval_s=args.rollup_interval,
                        rollup_1h_interval_s=args.rollup_1h_interval)
    thread = threading.Thread(target=worker.run, daemon=True)
    builds = args.rollup_interval > 0 and args.rollup_1h_interval > 0

    def cpu() -> dict[str, float]:
        return {"sink": time.process_time(), **{k: cpu_seconds(p) for k, p in pids.items()}}

    def per_mrows(after: dict[str, float], before: dict[str, float], n: int) -> dict:
        return {k: round((after[k] - before[k]) / max(n, 1) * 1e6, 2) for k in before}

    idle_before, idle_t = cpu(), time.monotonic()  # background CPU of idle servers
    time.sleep(5.0)
    idle = {k: round((v - idle_before[k]) / (time.monotonic() - idle_t), 3)
            for k, v in cpu().items() if k != "sink"}
    cpu_before = cpu()
    thread.start()
    first, first_rows, done = wait_rows(telemetry, rows, timeout=600)
    inserted_at = time.time()
    insert_cpu = per_mrows(cpu(), cpu_before, rows)
    caught_up_at = wait_rollups(telemetry, inserted_at) if builds else inserted_at
    cpu_per_mrows = per_mrows(cpu(), cpu_before, rows)
    # the clock starts at the first acknowledged insert(s), so those rows are not counted
    rows_per_s = (rows - first_rows) / max(done - first, 1e-9)
    family = worker.sink.families[TOPIC]
    decode_paths = {"fast": family.fast_decodes, "full": family.full_decodes}
    stored = storage(url)

    # phase 2: steady load with fresh scrapes, lag per message
    rounds = [fleet.payloads(start_ts + (args.scrapes + s) * STEP_MS) for s in range(4)]
    telemetry.recent_lags.clear()
    before = telemetry.rows_total
    steady_before = {"sink": time.process_time(), **{k: cpu_seconds(p) for k, p in pids.items()}}
    proc = mp.get_context("spawn").Process(
        target=steady_producer,
        args=(bootstrap, rounds, args.per_msg, args.lag_rate, args.lag_seconds))
    proc.start()
    lag_max = 0.0
    while proc.is_alive():
        lag_max = max(lag_max, rollup_lag(telemetry))
        proc.join(0.25)
    sent_rows = int(args.lag_rate * args.lag_seconds) // args.per_msg * args.per_msg
    try:
        wait_rows(telemetry, before + sent_rows * 0.98, timeout=120)
        time.sleep(2.0)
        if builds:
            wait_rollups(telemetry, time.time())
        steady_after = cpu()
        rollup_rows = {t: int(telemetry.rows.labels(t)._value.get())
                       for t in ("metrics_1m", "metrics_1h")}
        client = connect(url)
        rolled = int(client.command(f"SELECT sum(count) FROM {DATABASE}.metrics_1m"))
        raw_rows = int(client.command(
            f"SELECT countIf(NOT isNaN(value)) FROM {DATABASE}.metrics"))
    finally:
        worker.stop()
        thread.join(60)
    lags = np.array(telemetry.recent_lags)
    steady_rows = telemetry.rows_total - before
    steady_cpu = {k: round((steady_after[k] - steady_before[k]) / max(steady_rows, 1) * 1e6, 2)
                  for k in steady_before}
    total_cpu = sum(cpu_per_mrows.values())
    return {
        "rows_per_s": round(rows_per_s),
        "lag_p50_s": round(float(np.percentile(lags, 50)), 3),
        "lag_p99_s": round(float(np.percentile(lags, 99)), 3),
        "bytes_per_sample": stored["bytes_per_sample"],
        "rows": rows, "series": len(fleet.kind), "per_msg": args.per_msg,
        "encode_rows_per_s": round(rows / encode_s),
        "lag_rate_rows_per_s": args.lag_rate, "lag_seconds": args.lag_seconds,
        "lag_rows_inserted": steady_rows, "lag_messages": int(len(lags)),
        "uncompressed_bytes_per_sample": stored["uncompressed_bytes_per_sample"],
        "column_bytes_per_sample": stored["column_bytes_per_sample"],
        "decode_paths": decode_paths,
        "cpu_s_per_million_rows": cpu_per_mrows,
        # CPU-seconds per million rows = cores busy at 1M rows/s (sink + ClickHouse + Kafka)
        "cores_for_1m_rows_per_s": round(total_cpu, 2),
        "rows_per_cpu_s": round(1e6 / max(total_cpu, 1e-9)),
        "steady_cpu_s_per_million_rows": steady_cpu,
        "insert_cpu_s_per_million_rows": insert_cpu,
        "idle_cpu_s_per_s": idle,
        "rollup_interval_s": [args.rollup_interval, args.rollup_1h_interval],
        "rollup_catch_up_s": round(caught_up_at - inserted_at, 2),
        "rollup_lag_max_s": round(lag_max, 2),
        "rollup_rows_written": rollup_rows,
        "rollup_complete": rolled == raw_rows if builds else None,
        "load_avg_1m": round(os.getloadavg()[0], 1), "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    main()
