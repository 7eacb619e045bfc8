"""Incident contexts for Nezha faults, built only from what the pipeline has at the time.

For a fault injected at ``t0`` (the only thing taken from the fault list before ranking),
see :mod:`streams.evaluation.incident_window`: metric anomalies from one causal streaming
pass of our detector over the day's per-minute series, trace RED anomalies from the spans
of ``[t0 - trace_baseline_ms, t0 + after_ms)``, and the dependency edges of
``dependency.csv`` plus those seen in the spans.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streams.evaluation.incident_window import (
    HarnessConfig,
    detector_z,
    metric_anomalies,
    silence_anomalies,
    trace_anomalies,
)
from streams.evaluation.nezha import MetricFrame, load_spans, trace_files
from streams.rca.context import DependencyEdge, IncidentContext

CLUSTER = "nezha-ob"


def metric_z(frame: MetricFrame, cfg: HarnessConfig) -> np.ndarray:
    """Detector z of every sample of every series of the day."""
    return detector_z(frame.values, cfg)


def build_context(day: str, t0: int, frame: MetricFrame, z: np.ndarray,
                  static_edges: list[DependencyEdge], cfg: HarnessConfig,
                  root: Path | None = None) -> IncidentContext:
    """The incident context for a fault at ``t0`` (no label involved)."""
    anomalies = metric_anomalies(frame.ts_ms, frame.series, frame.values, z, t0, cfg, CLUSTER)
    anomalies += silence_anomalies(frame.ts_ms, frame.series, frame.values, t0, cfg, CLUSTER)
    start = t0 - cfg.trace_baseline_ms
    spans = load_spans(trace_files(day, start, t0 + cfg.after_ms, root))
    t_anoms, t_edges, exemplars = trace_anomalies(spans, t0, start, cfg, CLUSTER)
    seen = {(e.caller, e.callee) for e in t_edges}
    edges = t_edges + [e for e in static_edges if (e.caller, e.callee) not in seen]
    pods: dict[str, list[str]] = {}
    for info in frame.series:
        if info.entity_type == "POD" and info.entity not in pods.get(info.labels["service"], []):
            pods.setdefault(info.labels["service"], []).append(info.entity)
    return IncidentContext(f"{day}@{t0}", CLUSTER, anomalies + t_anoms, edges,
                           traces=exemplars, window_start_ts=t0,
                           window_end_ts=t0 + cfg.after_ms, pods=pods)
