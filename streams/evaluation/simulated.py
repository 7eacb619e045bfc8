"""Incident contexts from the fleet simulator, one fault at a time, with its ground truth.

A case runs one cluster of a seeded fleet with a single fault of one kind starting after
``warm_ticks`` quiet ticks, and keeps what a pipeline would receive: every series (counters
turned into per-second rates, histograms into mean latency and error ratio per service),
DCGM fields per GPU, spans and log lines.  The context is then built exactly like the
Nezha one (:mod:`streams.evaluation.incident_window`) plus log template events; the fault
(the label) is only returned for scoring.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from streams.evaluation.incident_window import (
    HarnessConfig,
    SeriesInfo,
    absence_anomaly,
    detector_z,
    metric_anomalies,
    silence_anomalies,
    trace_anomalies,
)
from streams.rca.context import DependencyEdge, IncidentContext, LogEvent
from streams.rca.spans import SpanTable
from streams.simulator.engine import ClusterSim, TickOutput
from streams.simulator.faults import CATALOGUE, Fault, parse_spec, resolve
from streams.simulator.gpu import DCGM_FIELDS
from streams.simulator.topology import Cluster, build_fleet

START_MS = 1_700_000_000_000
STEP_MS = 15_000
#: The simulator's window parameters: 15 s ticks, faults that build up over minutes.
SIM_CONFIG = HarnessConfig(after_ms=300_000, bucket_ms=STEP_MS, trace_baseline_ms=1_200_000,
                           baseline_ms=1_200_000)
_ERROR_LEVELS = frozenset({"ERROR", "FATAL", "CRITICAL"})
_MASK = re.compile(r"0x[0-9a-f]+|[0-9a-f]{8,}|\d+(\.\d+)?", re.IGNORECASE)


@dataclass
class SimCase:
    """One simulated fault, its cluster and the context built for it."""

    kind: str
    seed: int
    fault: Fault
    cluster: Cluster
    context: IncidentContext


def _rates(values: np.ndarray, counter: np.ndarray, dt_s: float) -> np.ndarray:
    """Counters -> per-second rates (a drop is a restart: the new value is the increase)."""
    out = values.copy()
    diff = np.diff(values[:, counter], axis=0, prepend=np.nan)
    diff = np.where(diff < 0, values[:, counter], diff)
    out[:, counter] = diff / dt_s
    return out


def _series(sim: ClusterSim, cluster: Cluster) -> tuple[list[SeriesInfo], list[int], np.ndarray]:
    """Kept table rows with their identity; histogram rows are derived later."""
    svc_of_pod = {(p.namespace, p.name): p.service for p in cluster.pods if p.service}
    infos, rows, counter = [], [], []
    for tg in sim.table.targets:
        for row, name, labels, mtype in zip(tg.rows, tg.names, tg.labels, tg.types, strict=True):
            if mtype == "HISTOGRAM" or name == "node_cpu_seconds_total":
                continue
            labels = dict(labels)
            ns = labels.get("namespace", "")
            if labels.get("pod"):
                if (ns, labels["pod"]) in svc_of_pod:
                    labels["service"] = svc_of_pod[(ns, labels["pod"])]
                info = SeriesInfo(name, "POD", f"{ns}/{labels['pod']}", labels)
            elif labels.get("deployment"):
                info = SeriesInfo(name, "DEPLOYMENT", f"{ns}/{labels['deployment']}", labels)
            elif labels.get("service"):
                info = SeriesInfo(name, "SERVICE", f"{ns}/{labels['service']}", labels)
            elif labels.get("iface") and "ptp" in name:
                info = SeriesInfo(name, "PTP_INTERFACE", f"{labels['node']}/{labels['iface']}",
                                  labels)
            elif labels.get("node"):
                info = SeriesInfo(name, "NODE", labels["node"], labels)
            else:
                info = SeriesInfo(name, "SERIES", name, labels)
            infos.append(info)
            rows.append(int(row))
            counter.append(mtype == "COUNTER")
    return infos, rows, np.array(counter, dtype=bool)


def _service_red(sim: ClusterSim, outs: list[TickOutput]) -> tuple[list[SeriesInfo], np.ndarray]:
    """Mean latency and error ratio per service from the http histograms and counters."""
    sums: dict[tuple[str, str], int] = {}
    counts: dict[tuple[str, str], int] = {}
    codes: dict[tuple[str, str], list[tuple[int, bool]]] = {}
    for tg in sim.table.targets:
        for row, name, labels in zip(tg.rows, tg.names, tg.labels, strict=True):
            key = (labels.get("namespace", ""), labels.get("service", ""))
            if name == "http_server_requests_seconds_sum":
                sums[key] = int(row)
            elif name == "http_server_requests_seconds_count":
                counts[key] = int(row)
            elif name == "http_server_requests_total":
                codes.setdefault(key, []).append((int(row), labels.get("code", "")[:1] == "5"))
    vals = np.stack([o.values for o in outs])
    dv = np.diff(vals, axis=0, prepend=np.nan)
    dv = np.where(dv < 0, vals, dv)
    infos, cols = [], []
    with np.errstate(invalid="ignore", divide="ignore"):
        for key in sorted(sums.keys() & counts.keys()):
            ns, svc = key
            labels = {"namespace": ns, "service": svc}
            infos.append(SeriesInfo("http_server_request_latency_seconds_mean", "SERVICE",
                                    f"{ns}/{svc}", labels))
            cols.append(dv[:, sums[key]] / dv[:, counts[key]])
            if key in codes:
                err = sum(dv[:, r] for r, bad in codes[key] if bad)
                tot = sum(dv[:, r] for r, _ in codes[key])
                infos.append(SeriesInfo("http_server_requests_error_ratio", "SERVICE",
                                        f"{ns}/{svc}", labels))
                cols.append(err / tot if isinstance(tot, np.ndarray) else np.zeros(len(outs)))
    return infos, np.stack(cols, axis=1) if cols else np.zeros((len(outs), 0))


def _gpu_series(cluster: Cluster, outs: list[TickOutput]) -> tuple[list[SeriesInfo], np.ndarray]:
    gpus = cluster.gpus
    if not gpus or not outs[0].gpu_fields:
        return [], np.zeros((len(outs), 0))
    vllm = {p.node: p.name for p in cluster.pods if p.service == "vllm"}
    infos, cols = [], []
    for field_name, (dcgm, ptype, _) in sorted(DCGM_FIELDS.items()):
        if field_name not in outs[0].gpu_fields:
            continue
        col = np.stack([o.gpu_fields[field_name] for o in outs])
        if ptype == "counter":
            col = _rates(col, np.ones(col.shape[1], dtype=bool), STEP_MS / 1000)
        for g_i, g in enumerate(gpus):
            labels = {"node": g.node, "UUID": g.uuid, "gpu": str(g.index)}
            if g.node in vllm:
                labels.update({"pod": vllm[g.node], "namespace": "llm"})
            infos.append(SeriesInfo(dcgm, "GPU", g.entity, labels))
            cols.append(col[:, g_i])
    return infos, np.stack(cols, axis=1)


def _spans(outs: list[TickOutput], cluster: Cluster) -> SpanTable:
    ns = {s.name: s.namespace for s in cluster.services}
    spans = [s for o in outs for s in o.spans]
    obj = lambda xs: np.array(xs, dtype=object)  # noqa: E731
    return SpanTable(obj([s["span_id"] for s in spans]),
                     obj([s["parent_span_id"] or "root" for s in spans]),
                     obj([f"{ns.get(s['service'], '')}/{s['service']}" for s in spans]),
                     np.array([s["start_ns"] for s in spans], dtype=np.int64),
                     np.array([s["duration_ns"] for s in spans], dtype=np.int64),
                     np.array([s["status_code"] == "ERROR" for s in spans], dtype=bool),
                     obj([s["trace_id"] for s in spans]))


def log_events(outs: list[TickOutput], t0: int, cfg: HarnessConfig) -> list[LogEvent]:
    """Templates (numbers and hex masked) novel or bursting after ``t0`` vs the baseline."""
    base: Counter[tuple[str, str, str]] = Counter()
    after: Counter[tuple[str, str, str]] = Counter()
    first: dict[tuple[str, str, str], int] = {}
    meta: dict[tuple[str, str, str], tuple[str, bool]] = {}
    for o in outs:
        for r in o.logs:
            ts = r["ts_ns"] // 1_000_000
            lb = r["labels"]
            if not lb.get("pod"):
                continue
            key = (f"{lb.get('namespace', '')}/{lb.get('pod', '')}",
                   _MASK.sub("<*>", r["body"]), r["level"])
            meta[key] = (f"{lb.get('namespace', '')}/{lb.get('app', '')}" if lb.get("app")
                         else "", r["level"] in _ERROR_LEVELS)
            if t0 - cfg.baseline_ms <= ts < t0:
                base[key] += 1
            elif t0 <= ts <= t0 + cfg.after_ms:
                after[key] += 1
                first[key] = min(first.get(key, ts), ts)
    scale = cfg.after_ms / cfg.baseline_ms
    out = []
    for key in sorted(after):
        expected = base[key] * scale
        if base[key] and after[key] < 3 * (expected + 1):
            continue
        pod, template, _ = key
        svc, is_error = meta[key]
        out.append(LogEvent("POD", pod, template[:40], template, after[key], int(round(expected)),
                            first[key], is_error, svc))
    return out


def run_case(kind: str, seed: int, cfg: HarnessConfig = SIM_CONFIG, clusters: int = 3,
             warm_ticks: int = 100) -> SimCase:
    """Simulate one fault of ``kind`` and build its incident context."""
    fleet = build_fleet(clusters, seed)
    after_ticks = cfg.after_ms // STEP_MS
    spec = parse_spec(f"{kind}@+{warm_ticks * STEP_MS // 1000}s/{2 * cfg.after_ms // 1000}s")
    fault = resolve(spec, fleet, seed, START_MS, 0)
    cluster = next(c for c in fleet if c.name == fault.cluster)
    sim = ClusterSim(cluster, seed, START_MS, STEP_MS, [fault])
    outs = [sim.tick(k) for k in range(warm_ticks + after_ticks + 1)]
    infos, rows, counter = _series(sim, cluster)
    vals = np.stack([o.values[rows] for o in outs])
    vals[[o.dark for o in outs]] = np.nan
    vals = _rates(vals, counter, STEP_MS / 1000)
    red_infos, red_vals = _service_red(sim, outs)
    gpu_infos, gpu_vals = _gpu_series(cluster, outs)
    all_infos = infos + red_infos + gpu_infos
    values = np.concatenate([vals, red_vals, gpu_vals], axis=1)
    ts = np.array([o.ts for o in outs], dtype=np.int64)
    t0 = fault.start_ts
    z = detector_z(values, cfg)
    anomalies = metric_anomalies(ts, all_infos, values, z, t0, cfg, cluster.name)
    dark = absence_anomaly(ts, values, t0, cfg, cluster.name)
    # A dark cluster explains every silent series; otherwise each one is evidence.
    anomalies += dark or silence_anomalies(ts, all_infos, values, t0, cfg, cluster.name)
    t_anoms, t_edges, exemplars = trace_anomalies(_spans(outs, cluster), t0,
                                                  t0 - cfg.trace_baseline_ms, cfg, cluster.name)
    seen = {(e.caller, e.callee) for e in t_edges}
    static = [DependencyEdge(s.entity, f"{s.namespace}/{callee}") for s in cluster.services
              for callee, _ in s.deps]
    edges = t_edges + [e for e in static if (e.caller, e.callee) not in seen]
    pods: dict[str, list[str]] = {}
    for p in cluster.pods:
        if p.service:
            pods.setdefault(f"{p.namespace}/{p.service}", []).append(p.entity)
    ctx = IncidentContext(f"{kind}@{seed}", cluster.name, anomalies + t_anoms, edges,
                          log_events(outs, t0, cfg), exemplars, t0, t0 + cfg.after_ms, pods,
                          _node_services(outs, t0 - 60_000, t0 + cfg.after_ms))
    return SimCase(kind, seed, fault, cluster, ctx)


def _node_services(outs: list[TickOutput], start_ms: int, end_ms: int) -> dict[str, list[str]]:
    """Placement as the live RCA reads it: node -> services serving (SERVER spans) on it
    in the window, from the spans' resources."""
    placed: dict[str, set[str]] = {}
    for o in outs:
        for s in o.spans:
            res = s["resource"]
            node = res.get("k8s.node.name")
            if node and s["kind"] == "SERVER" and start_ms <= s["start_ns"] // 1_000_000 <= end_ms:
                placed.setdefault(node, set()).add(
                    f"{res.get('k8s.namespace.name', '')}/{s['service']}")
    return {n: sorted(v) for n, v in placed.items()}


KINDS: tuple[str, ...] = tuple(CATALOGUE)
