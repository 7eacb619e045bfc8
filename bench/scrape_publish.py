"""Scrape-path throughput: exposition parse, MetricBatch encode, publish to a real broker.

Usage: ``python bench/scrape_publish.py [--targets 20] [--series 5000] [--seconds 8]``.
Starts a private local Kafka (temp dir, free port), builds node-exporter-like
exposition bodies (``--series`` samples per target, histograms and summaries
included), then measures separately:

* ``reference_parse_samples_per_s``: prometheus-client's text parser;
* ``parse_cold_samples_per_s``: our parser on a never-seen target (full validation);
* ``parse_samples_per_s``: our parser on a known target (series cache warm, the steady state);
* ``encode_samples_per_s``: MetricBatch Avro encoding (pre-encoded series pieces);
* ``samples_per_s``: end to end, one process: parse + encode + publish of every
  target's scrape (``PrometheusSource.ingest``, HTTP fetch excluded) until every
  record is acknowledged by the broker (idempotent, lz4);
* ``http_samples_per_s``: the same with real HTTP scrapes (httpx, concurrent, from a
  separate ``python -m http.server`` process serving the body): fetch included;
* ``memory_per_target_bytes``: memory a target's series cache holds (tracemalloc), and
  ``rss_growth_per_target_bytes`` (process RSS growth per target after warm-up).

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bench.stack import private_stack  # noqa: E402
from connectors.publish.columnar import encode_metric_batch  # noqa: E402
from connectors.publish.kafka import KafkaPublisher  # noqa: E402
from connectors.sources.config import GlobalConfig, JobConfig  # noqa: E402
from connectors.sources.discovery import Target  # noqa: E402
from connectors.sources.exposition import ExpositionParser  # noqa: E402
from connectors.sources.prometheus import PrometheusSource  # noqa: E402
from streams.stack.ports import free_port, port_open  # noqa: E402


def exposition(series: int, seed: int) -> str:
    """A node-exporter-like body with about ``series`` samples."""
    rnd = random.Random(seed)
    lines: list[str] = []
    n = 0
    lines += ["# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.",
              "# TYPE node_cpu_seconds_total counter"]
    cpus = max(series // 40, 1)
    for cpu in range(cpus):
        for mode in ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"):
            lines.append(f'node_cpu_seconds_total{{cpu="{cpu}",mode="{mode}"}} '
                         f"{rnd.uniform(0, 1e6):.2f}")
            n += 1
    lines += ["# HELP http_request_duration_seconds Latency.",
              "# TYPE http_request_duration_seconds histogram"]
    handlers = max(series // 80, 1)
    for h in range(handlers):
        for le in ("0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf"):
            lines.append(f'http_request_duration_seconds_bucket{{handler="/api/v1/h{h}",'
                         f'method="GET",le="{le}"}} {rnd.randint(0, 10**6)}')
        lines.append(f'http_request_duration_seconds_sum{{handler="/api/v1/h{h}",method="GET"}} '
                     f"{rnd.uniform(0, 1e5):.3f}")
        lines.append(f'http_request_duration_seconds_count{{handler="/api/v1/h{h}",'
                     f'method="GET"}} {rnd.randint(0, 10**6)}')
        n += 10
    lines += ["# HELP node_network_receive_bytes_total Bytes received.",
              "# TYPE node_network_receive_bytes_total counter"]
    i = 0
    while n < series:
        lines.append(f'node_network_receive_bytes_total{{device="veth{i:05d}",'
                     f'namespace="ns-{i % 50}",pod="pod-{i}-abcde"}} {rnd.randint(0, 10**12)}')
        n += 1
        i += 1
    return "\n".join(lines) + "\n"


def rate(samples: int, seconds: float) -> float:
    return round(samples / seconds, 1) if seconds > 0 else 0.0


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=20)
    ap.add_argument("--series", type=int, default=5000, help="samples per target")
    ap.add_argument("--seconds", type=float, default=8.0, help="end-to-end publish duration")
    ap.add_argument("--http-seconds", type=float, default=6.0,
                    help="duration of the phase with real HTTP scrapes (0: skip)")
    args = ap.parse_args(argv)

    bodies = [exposition(args.series, seed) for seed in range(2)]
    per_body = len(ExpositionParser(lambda n, labels, t: None).parse(
        bodies[0], default_ts=0).entries)
    out: dict[str, float | int | str] = {"targets": args.targets, "samples_per_scrape": per_body}

    # -- parse: reference, cold, warm ---------------------------------------------------
    t0 = time.perf_counter()
    ref = sum(len(f.samples) for f in text_string_to_metric_families(bodies[0]))
    out["reference_parse_samples_per_s"] = rate(ref, time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(3):
        ExpositionParser(lambda n, labels, t: (n, labels, t)).parse(bodies[0], default_ts=0)
    out["parse_cold_samples_per_s"] = rate(3 * per_body, time.perf_counter() - t0)

    source = PrometheusSource(JobConfig(job_name="bench"), GlobalConfig(), "bench-cluster",
                              publisher=None)  # type: ignore[arg-type]
    tgt = Target("bench", "10.0.0.1:9100", {"job": "bench", "instance": "10.0.0.1:9100"})
    state = source.state(tgt)
    state.parser.parse(bodies[0], default_ts=0)
    reps = 10
    t0 = time.perf_counter()
    for i in range(reps):
        parsed = state.parser.parse(bodies[i % 2], default_ts=1_700_000_000_000)
    out["parse_samples_per_s"] = rate(reps * per_body, time.perf_counter() - t0)
    t0 = time.perf_counter()
    size = 0
    for _ in range(reps):
        size = len(encode_metric_batch("b", "bench-cluster", "prometheus", "bench/x", 0,
                                       parsed.entries, parsed.values, parsed.timestamps))
    out["encode_samples_per_s"] = rate(reps * per_body, time.perf_counter() - t0)
    out["avro_bytes_per_sample"] = round(size / per_body, 1)

    # -- memory held per target: its series cache (tracemalloc, exact) ------------------
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    probe = PrometheusSource(JobConfig(job_name="bench"), GlobalConfig(), "bench-cluster",
                             publisher=None)  # type: ignore[arg-type]
    probe.state(tgt).parser.parse(bodies[0], default_ts=0)
    out["memory_per_target_bytes"] = tracemalloc.get_traced_memory()[0] - before
    out["memory_per_series_bytes"] = round(out["memory_per_target_bytes"] / per_body, 1)
    tracemalloc.stop()
    del probe

    # -- end to end against a real broker ---------------------------------------------------
    with private_stack("aiops-bench-publish-", clickhouse=False) as (stack, _settings, _tmp):
        bootstrap = stack.kafka_bootstrap()
        pub = KafkaPublisher(bootstrap)
        src = PrometheusSource(JobConfig(job_name="bench"), GlobalConfig(), "bench-cluster",
                               pub)
        targets = [Target("bench", f"10.0.{i // 250}.{i % 250}:9100",
                          {"job": "bench", "instance": f"10.0.{i // 250}.{i % 250}:9100"})
                   for i in range(args.targets)]
        rss0 = rss_bytes()
        for t in targets:  # warm-up scrape: builds every target's series cache
            src.ingest(t, 0, bodies[0], False, time.perf_counter())
        pub.flush(60)
        out["rss_growth_per_target_bytes"] = int((rss_bytes() - rss0) / args.targets)
        published = 0
        t0 = time.perf_counter()
        c0 = time.process_time()
        scrape = 0
        while time.perf_counter() - t0 < args.seconds:
            body = bodies[scrape % 2]
            ts = 1_700_000_000_000 + scrape * 15_000
            for t in targets:
                published += src.ingest(t, ts, body, False, time.perf_counter()).published
                pub.poll(0)
            scrape += 1
        pending = pub.flush(120)
        elapsed = time.perf_counter() - t0
        out["samples_per_s"] = rate(published, elapsed)
        # CPU seconds of this process (all threads, librdkafka's included): what the
        # rate would be with a core to itself on a machine shared with other work
        out["samples_per_cpu_s"] = rate(published, time.process_time() - c0)
        out["load_avg_1m"] = round(float(Path("/proc/loadavg").read_text().split()[0]), 2)
        out["batches_per_s"] = rate(scrape * args.targets, elapsed)
        out["published_samples"] = published
        out["undelivered_records"] = pending
        out["publish_latency_p_le_100ms"] = _share_under(pub, 0.1)
        asyncio.run(src.stop())
        if args.http_seconds > 0:
            out.update(http_phase(src.job, pub, bodies[0], args.targets,
                                  args.http_seconds))
        pub.close()
    out["note"] = ("one process; samples_per_s excludes the HTTP fetch, http_samples_per_s "
                   "includes it; rates depend on machine load (load_avg_1m)")
    print(json.dumps(out))
    return 0


def http_phase(job: JobConfig, pub: KafkaPublisher, body: str, n_targets: int,
               seconds: float) -> dict[str, float]:
    """Real scrapes over HTTP (httpx) from a separate ``python -m http.server`` process:
    fetch + parse + encode + publish, all targets of a round concurrently."""
    with tempfile.TemporaryDirectory(prefix="aiops-bench-http-") as root:
        (Path(root) / "metrics").write_text(body)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                                   "127.0.0.1", "--directory", root],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not port_open("127.0.0.1", port) and time.monotonic() < deadline:
                time.sleep(0.05)
            src = PrometheusSource(job, GlobalConfig(scrape_timeout="30s",
                                                     scrape_interval="30s"),
                                   "bench-http", pub)
            address = f"127.0.0.1:{port}"
            targets = [Target("bench", address, {"job": "bench", "instance": f"t{i}"})
                       for i in range(n_targets)]

            # http.server's listen backlog is 5: more simultaneous connects would wait for
            # SYN retransmits (1 s), a property of that server, not of the scraper
            gate = asyncio.Semaphore(4)

            async def one(t: Target):
                async with gate:
                    return await src.scrape(t)

            async def run() -> tuple[int, float]:
                published = 0
                try:
                    await asyncio.gather(*(one(t) for t in targets))  # warm caches
                    t0 = time.perf_counter()
                    while time.perf_counter() - t0 < seconds:
                        outs = await asyncio.gather(*(one(t) for t in targets))
                        published += sum(o.published for o in outs)
                        pub.poll(0)
                    await asyncio.to_thread(pub.flush, 120)
                    return published, time.perf_counter() - t0
                finally:
                    await src.stop()

            published, elapsed = asyncio.run(run())
        finally:
            server.terminate()
            server.wait()
    return {"http_samples_per_s": rate(published, elapsed), "http_published_samples": published}


def _share_under(pub: KafkaPublisher, bound: float) -> float:
    total = under = 0.0
    for metric in pub.latency.collect():
        for s in metric.samples:
            if s.name.endswith("_count"):
                total = s.value
            if s.name.endswith("_bucket") and s.labels.get("le") == str(bound):
                under = s.value
    return round(under / total, 3) if total else 0.0


if __name__ == "__main__":
    raise SystemExit(main())
