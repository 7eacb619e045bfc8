"""Live-stream fan-out: 1,000 SSE clients on one API process, Kafka-to-client latency.

Starts a private stack, runs the API in a child process (one uvicorn worker), opens
``--clients`` SSE connections from one asyncio (uvloop) client in this process, then
produces ``--events`` anomalies to ``aiops.anomalies``. Latency is client receipt
time minus the Kafka record timestamp (producer CreateTime, same host clock). The
client reads raw sockets and slices the timestamp out of each frame (no HTTP
library, no JSON parse), and its CPU time is reported beside the server's so the
two can be told apart. Prints one JSON object on its last line.

    .venv/bin/python bench/stream_fanout.py [--clients 1000] [--events 100] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.api_harness import migrate_api  # noqa: E402
from bench.stack import private_stack  # noqa: E402
from schemas.codec import Codec  # noqa: E402
from streams.kafka.clients import make_producer  # noqa: E402

DB = "aiops"


def serve_api(port: int) -> None:
    """Child process: the API with relay, on ``port`` (settings from AIOPS_* env)."""
    import uvicorn

    from api.app import create_app
    from api.services import build_services
    from streams.settings import Settings

    settings = Settings()
    services = build_services(settings, settings.kafka_bootstrap or "",
                              settings.clickhouse_url or "")
    app = create_app(settings, services)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                backlog=4096)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TS_KEY = b'"source_ts_ms": '


class Client:
    """One raw SSE connection recording per-event latency.

    Cheap on purpose, so the client process does not compete with the server for
    CPU more than it must: one ``read`` per wake-up, one clock reading per read, and
    the Kafka timestamp sliced out of each ANOMALY frame without a JSON parse.
    """

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.connected = asyncio.Event()
        self.dropped = 0

    async def run(self, port: int, token: str, stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        writer.write((f"GET /api/v1/stream/sse?type=ANOMALY HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
                      ).encode())
        await writer.drain()
        rest = b""
        try:
            while not stop.is_set():
                data = await reader.read(1 << 16)
                if not data:
                    break
                now = time.time() * 1000
                frames = (rest + data).split(b"\n\n")
                rest = frames.pop()
                for frame in frames:
                    if b"event: ANOMALY" in frame:
                        at = frame.index(TS_KEY) + len(TS_KEY)
                        self.latencies.append(now - int(frame[at:frame.index(b",", at)]))
                    elif b"event: heartbeat" in frame:
                        self.connected.set()
                    elif b"event: dropped" in frame:
                        self.dropped += json.loads(frame[frame.index(b"data: ") + 6:])["count"]
        finally:
            writer.close()


def relay_lag(port: int) -> dict:
    """Kafka-to-relay share of the latency, from the server's histogram (bucket bounds)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10, trust_env=False).text
    buckets: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(text):
        if family.name == "aiops_api_stream_relay_lag_seconds":
            buckets = sorted((float(s.labels["le"]), s.value) for s in family.samples
                             if s.name.endswith("_bucket"))
    total = buckets[-1][1] if buckets else 0

    def upper(q: float) -> float | None:
        return next((le * 1000 for le, n in buckets if total and n >= q * total), None)

    return {"relay_lag_p50_le_ms": upper(0.5), "relay_lag_p95_le_ms": upper(0.95)}


def anomaly(i: int) -> dict:
    now = int(time.time() * 1000)
    return {"anomaly_id": f"bench-{i}", "cluster": f"c{i % 10}", "entity_type": "SERIES",
            "entity": "x", "name": "m", "labels": {"namespace": "ns"}, "series_id": i,
            "type": "SPIKE", "actual": 1.0, "expected": 0.0, "lower": 0.0, "upper": 0.5,
            "score": 5.0, "confidence": 0.9, "severity": "HIGH", "detector": "bench",
            "rule": None, "start_ts": now, "sample_ts": now, "detected_ts": now}


async def fan_out(port: int, token: str, bootstrap: str, clients: int, events: int,
                  rate: float, server_pid: int) -> dict:
    """Connect, produce, collect; server CPU is split into connecting and delivering."""
    stop = asyncio.Event()
    # A long-lived producer, as the detect/correlate workers have: connected, its idempotent
    # producer id granted and the topic's leader known before the timed events (a cold one
    # stamps its first records' CreateTime hundreds of ms before they reach the broker).
    # Its warm-up record reaches the relay before any client subscribes.
    producer = make_producer(bootstrap, **{"linger.ms": 0})
    codec = Codec("anomaly")
    producer.produce("aiops.anomalies", codec.encode(anomaly(-1)), key=b"k")
    producer.flush(10)
    conns = [Client() for _ in range(clients)]
    tasks = []
    for i, c in enumerate(conns):
        tasks.append(asyncio.create_task(c.run(port, token, stop)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    t0 = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in conns)), 120)
    connect_s = time.monotonic() - t0
    cpu0, own0 = cpu_seconds(server_pid), cpu_seconds(os.getpid())
    for i in range(events):
        producer.produce("aiops.anomalies", codec.encode(anomaly(i)), key=b"k")
        producer.poll(0)
        await asyncio.sleep(1 / rate)
    producer.flush(10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and sum(len(c.latencies) for c in conns) < \
            clients * events:
        await asyncio.sleep(0.2)
    cpu, own = cpu_seconds(server_pid) - cpu0, cpu_seconds(os.getpid()) - own0
    relay = relay_lag(port)
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat = [v for c in conns for v in c.latencies]
    return {"clients": clients, "events": events, "connect_s": round(connect_s, 2),
            "delivered": len(lat), "expected": clients * events,
            "dropped": sum(c.dropped for c in conns),
            "delivery_p50_ms": round(statistics.median(lat), 1) if lat else None,
            "delivery_p95_ms": round(statistics.quantiles(lat, n=100)[94], 1)
            if len(lat) > 1 else None,
            "delivery_max_ms": round(max(lat), 1) if lat else None,
            "server_cpu_s": round(cpu, 2),
            "server_cpu_us_per_delivery": round(cpu * 1e6 / max(1, len(lat)), 1),
            "client_cpu_s": round(own, 2), **relay}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--events", type=int, default=100)
    ap.add_argument("--rate", type=float, default=20.0, help="Events per second")
    ap.add_argument("--serve-port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_port:
        serve_api(args.serve_port)
        return
    from api.auth.principal import Role
    from api.auth.tokens import TokenStore
    from connectors.clickhouse.client import connect

    with private_stack() as (stack, _settings, tmp):
        url, bootstrap = stack.clickhouse_url(), stack.kafka_bootstrap()
        migrate_api(url, DB, tmp)
        token, _ = TokenStore(connect(url, DB), DB).create("bench", Role.VIEWER)
        port = free_port()
        env = {**os.environ, "AIOPS_KAFKA_BOOTSTRAP": bootstrap, "AIOPS_CLICKHOUSE_URL": url,
               "AIOPS_CLICKHOUSE_DATABASE": DB, "AIOPS_API_STREAM_HEARTBEAT_S": "5",
               "AIOPS_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen([sys.executable, __file__, "--serve-port", str(port)],
                                  env=env)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("API process did not start") from None
                    time.sleep(0.2)
            time.sleep(1.0)  # relay positioned at the topic end
            cpu0 = cpu_seconds(server.pid)
            coro = fan_out(port, token, bootstrap, args.clients, args.events, args.rate,
                           server.pid)
            try:
                import uvloop

                result = uvloop.run(coro)
            except ImportError:
                result = asyncio.run(coro)
            result["server_cpu_total_s"] = round(cpu_seconds(server.pid) - cpu0, 2)
            result["load_average_1m"] = os.getloadavg()[0]
        finally:
            server.terminate()
            server.wait(30)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
