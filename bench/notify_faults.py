"""Alert delivery under faults: a flaky webhook receiver and a notifier killed mid-run.

Starts a private local stack (Kafka + ClickHouse, temp dir, free ports), a threaded HTTP
receiver and a real ``aiops notify run`` process routing every incident of the run's
cluster to one signed generic-JSON webhook. Then:

* after a warm-up incident (the notifier is up and assigned before the clock starts),
  ``--incidents`` OPEN incidents are produced to ``aiops.incidents`` at ``--rate``/s;
* for the first ``--flaky-s`` seconds of the run the receiver answers
  ``--fail-rate`` of requests with HTTP 503 and holds ``--hang-rate`` of them past the
  endpoint timeout, closing without an answer (not processed); afterwards it recovers;
* after ``--kill-after`` incidents were accepted the notifier is SIGKILLed, stays down
  ``--down-s`` seconds and is started again (it resumes from ClickHouse and Kafka);
* the run settles when every incident was accepted (or ``--settle-s`` passed without
  progress), plus a grace period to catch late re-sends.

Counted at the receiver: ``delivered`` (incidents accepted at least once), ``duplicates``
(accepted requests repeating an ``Idempotency-Key`` already accepted), ``lost`` (incidents
never accepted), delivery latency per incident (first acceptance - produce time, restart
downtime included). Last line: one JSON object.

Usage: ``python bench/notify_faults.py [--incidents 1000 --rate 100 --kill-after 400]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.stack import private_stack  # noqa: E402
from connectors.clickhouse.client import connect  # noqa: E402
from connectors.clickhouse.migrations import migrate  # noqa: E402
from schemas.codec import Codec  # noqa: E402
from streams.kafka import admin  # noqa: E402
from streams.kafka.clients import make_producer  # noqa: E402
from tests.notify.records import incident  # noqa: E402

DATABASE = "bench_notify_faults"
CLUSTER = "bench-faults"
TIMEOUT_S = 0.5


@dataclass
class FlakyReceiver:
    """A webhook that fails and hangs at random for a while, then recovers."""

    fail_rate: float
    hang_rate: float
    flaky_s: float
    seed: int = 7
    url: str = ""
    first_at: float | None = None
    answers: dict[str, int] = field(default_factory=dict)
    accepted: list[tuple[str, str, float]] = field(default_factory=list)  # key, incident, at
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def decide(self) -> str:
        with self.lock:
            now = time.monotonic()
            draw = self.rng.random()
            if self.first_at is None or now - self.first_at >= self.flaky_s:
                mode = "ok"  # warm-up (before the run starts) or recovered
            elif draw < self.fail_rate:
                mode = "503"
            elif draw < self.fail_rate + self.hang_rate:
                mode = "hang"
            else:
                mode = "ok"
            self.answers[mode] = self.answers.get(mode, 0) + 1
            return mode

    def accept(self, key: str, body: bytes) -> None:
        ident = json.loads(body)["incident"]["incident_id"]
        with self.lock:
            self.accepted.append((key, ident, time.time()))


def _handler(rx: FlakyReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            mode = rx.decide()
            if mode == "hang":
                time.sleep(TIMEOUT_S * 3)
                self.close_connection = True
                return
            if mode == "ok":
                rx.accept(self.headers.get("Idempotency-Key", ""), body)
            code = 200 if mode == "ok" else int(mode)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    return Handler


def start_worker(env: dict[str, str], log: Path, worker_id: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "streams.cli", "notify", "run"], cwd=REPO,
                            env={**env, "AIOPS_NOTIFY_WORKER_ID": worker_id},
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def produce(bootstrap: str, ids: list[str], rate: float, sent: dict[str, float]) -> None:
    """Produce OPEN incidents at ``rate``/s, recording each produce time in ``sent``."""
    producer, codec = make_producer(bootstrap, **{"linger.ms": 1}), Codec("incident")
    start = time.perf_counter()
    for i, ident in enumerate(ids):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent[ident] = time.time()
        producer.produce("aiops.incidents", key=ident.encode(),
                         value=codec.encode(incident(CLUSTER, ident)))
        producer.poll(0)
    producer.flush(30)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def run(bootstrap: str, url: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    admin.apply(bootstrap)
    client = connect(url)
    migrate(client, DATABASE)
    rx = FlakyReceiver(args.fail_rate, args.hang_rate, args.flaky_s)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rx))
    server.daemon_threads = True
    rx.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    routes = tmp / "routes.yaml"
    routes.write_text(f"""
endpoints: [{{name: hook, url: "{rx.url}", timeout_s: {TIMEOUT_S}, secret_env: BENCH_SECRET}}]
routes: [{{name: all, match: {{cluster: [{CLUSTER}]}}, endpoints: [hook]}}]
""")
    env = {**os.environ, "AIOPS_KAFKA_BOOTSTRAP": bootstrap, "AIOPS_CLICKHOUSE_URL": url,
           "AIOPS_CLICKHOUSE_DATABASE": DATABASE, "AIOPS_NOTIFY_GROUP": "bench-faults",
           "AIOPS_NOTIFY_ROUTES": str(routes), "AIOPS_NOTIFY_METRICS_PORT": "0",
           "AIOPS_NOTIFY_BACKOFF_S": "0.5", "AIOPS_NOTIFY_MAX_BACKOFF_S": "4",
           "AIOPS_NOTIFY_MAX_ATTEMPTS": "20", "AIOPS_NOTIFY_BREAKER_FAILURES": "10",
           "AIOPS_NOTIFY_BREAKER_RESET_S": "2", "AIOPS_DATA_DIR": str(tmp / "data"),
           "BENCH_SECRET": "bench-secret"}
    log = tmp / "notify.log"
    ids = [f"f-{i}" for i in range(args.incidents)]
    sent: dict[str, float] = {}
    worker = start_worker(env, log, "run1")
    # warm-up: the notifier is up and assigned before the clock starts
    produce(bootstrap, ["warm-up"], 1.0, {})
    deadline = time.monotonic() + 180
    while not rx.accepted:
        if time.monotonic() > deadline or worker.poll() is not None:
            raise RuntimeError(f"notifier did not start; log tail:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    rx.accepted.clear()
    producer = threading.Thread(target=produce, args=(bootstrap, ids, args.rate, sent))
    t0 = time.perf_counter()
    rx.first_at = time.monotonic()  # the flaky phase starts with the run
    producer.start()
    restart: dict[str, Any] = {}
    try:
        while len({i for _, i, _ in rx.accepted}) < args.kill_after:
            if time.perf_counter() - t0 > args.settle_s * 4 or worker.poll() is not None:
                raise RuntimeError(f"no progress before the kill; log tail:\n"
                                   f"{log.read_text()[-2000:]}")
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        restart = {"killed_after_delivered": len({i for _, i, _ in rx.accepted}),
                   "killed_at_s": round(time.perf_counter() - t0, 2), "down_s": args.down_s}
        time.sleep(args.down_s)
        worker = start_worker(env, log, "run2")
        producer.join()
        last, progress_at = -1, time.perf_counter()
        while time.perf_counter() - progress_at < args.settle_s:
            done = len({i for _, i, _ in rx.accepted})
            if done >= len(ids):
                break
            if done != last:
                last, progress_at = done, time.perf_counter()
            time.sleep(0.1)
        settled_s = time.perf_counter() - t0
        time.sleep(args.grace_s)  # late re-sends would show up here
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        server.shutdown()
    first: dict[str, float] = {}
    keys: dict[str, int] = {}
    for key, ident, at in rx.accepted:
        first.setdefault(ident, at)
        keys[key] = keys.get(key, 0) + 1
    latencies = [first[i] - sent[i] for i in ids if i in first]
    states = dict(client.query(f"SELECT state, count() FROM {DATABASE}.notification_deliveries"
                               " FINAL GROUP BY state").result_rows)
    statuses = dict(client.query(f"SELECT status, count() FROM {DATABASE}."
                                 "notification_attempts GROUP BY status").result_rows)
    return {
        "incidents": len(ids), "delivered": len(first),
        "duplicates": sum(n - 1 for n in keys.values()),
        "lost": len([i for i in ids if i not in first]),
        "p50_delivery_s": pct(latencies, 0.5), "p95_delivery_s": pct(latencies, 0.95),
        "max_delivery_s": pct(latencies, 1.0), "settled_s": round(settled_s, 1),
        "receiver_answers": rx.answers, "attempts_logged": statuses,
        # 2xx the receiver gave that the notifier never recorded (the crash window)
        "accepted_not_logged": rx.answers.get("ok", 0) - statuses.get("OK", 0),
        "delivery_states": states, "restart": restart,
        "faults": {"fail_rate": args.fail_rate, "hang_rate": args.hang_rate,
                   "flaky_s": args.flaky_s, "timeout_s": TIMEOUT_S},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="incidents produced per s")
    parser.add_argument("--fail-rate", type=float, default=0.30)
    parser.add_argument("--hang-rate", type=float, default=0.03)
    parser.add_argument("--flaky-s", type=float, default=20.0)
    parser.add_argument("--kill-after", type=int, default=400)
    parser.add_argument("--down-s", type=float, default=2.0)
    parser.add_argument("--settle-s", type=float, default=60.0,
                        help="give up after this long without progress")
    parser.add_argument("--grace-s", type=float, default=5.0)
    args = parser.parse_args()
    with private_stack(prefix="aiops-bench-notify-faults-") as (stack, _settings, tmp):
        result = run(stack.kafka_bootstrap(), stack.clickhouse_url(), tmp, args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
