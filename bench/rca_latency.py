"""Incident -> ranked causes latency with 1,000 related series (no LLM).

Builds deterministic synthetic incidents: 60 services with 3 pods each on a layered call
graph, 1,000 anomalous series (pod resource, latency, error and edge series), 200 log
template events and 100 exemplar traces, then times :func:`streams.rca.ranking.rank`.

Usage: ``python bench/rca_latency.py [--series 1000] [--runs 50]``; last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.rca.context import (  # noqa: E402
    DependencyEdge,
    IncidentContext,
    LogEvent,
    TraceEvidence,
)
from streams.rca.ranking import rank  # noqa: E402

T0 = 1_700_000_000_000
NAMES = ("container_cpu_usage_seconds", "container_memory_rss", "http_server_latency_p99",
         "http_server_errors_ratio", "container_network_receive_bytes", "requests_rate")


def incident(seed: int, n_series: int) -> IncidentContext:
    rng = random.Random(seed)
    services = [f"svc{i:02d}" for i in range(60)]
    edges = [DependencyEdge(services[i], services[j], call_rate=rng.uniform(1, 100))
             for i in range(60) for j in range(i + 1, min(60, i + 6)) if rng.random() < 0.5]
    anomalies = []
    for k in range(n_series):
        ts = T0 + rng.randint(0, 600) * 1000
        if k % 5 == 4 and edges:
            e = rng.choice(edges)
            labels = {"source": e.caller, "target": e.callee,
                      "side": rng.choice(["client", "server"])}
            et, entity, name = "EDGE", f"{e.caller}->{e.callee}", "edge_latency_p50_seconds"
        else:
            svc = rng.choice(services)
            pod = f"{svc}-5d8f-{rng.randint(0, 2)}"
            labels = {"pod": pod, "service": svc, "namespace": "shop", "node": f"n{k % 20}"}
            et, entity, name = "POD", f"shop/{pod}", rng.choice(NAMES)
        anomalies.append({
            "anomaly_id": f"a{seed}-{k}", "cluster": "c1", "entity_type": et,
            "entity": entity, "name": name, "labels": labels, "series_id": k + 1,
            "type": "SPIKE", "actual": rng.uniform(1, 9), "expected": 1.0, "lower": 0.5,
            "upper": 1.5, "score": rng.uniform(2.5, 60), "confidence": 0.9,
            "severity": "HIGH", "detector": "metric", "rule": None, "start_ts": ts,
            "sample_ts": ts, "detected_ts": ts})
    logs = [LogEvent("SERVICE", rng.choice(services), f"t{i}", f"template {i} <*>",
                     rng.randint(1, 500), rng.randint(0, 50), T0, rng.random() < 0.3)
            for i in range(200)]
    traces = [TraceEvidence(f"trace{i}", rng.choice(services), "op", rng.uniform(1, 900), T0,
                            rng.random() < 0.5) for i in range(100)]
    return IncidentContext(f"inc{seed}", "c1", anomalies, edges, logs, traces)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    times = []
    causes = 0
    for seed in range(args.runs):
        ctx = incident(seed, args.series)
        t = time.perf_counter()
        out = rank(ctx)
        times.append(time.perf_counter() - t)
        causes = len(out)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    print(json.dumps({"series": args.series, "runs": args.runs, "causes": causes,
                      "p50_s": round(statistics.median(times), 4), "p95_s": round(p95, 4),
                      "max_s": round(times[-1], 4), "target_p95_s": 2.0}))


if __name__ == "__main__":
    main()
