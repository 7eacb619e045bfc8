"""An incident version + ClickHouse history -> the ranking's :class:`IncidentContext`.

Span service names (``service_edges``) carry no namespace while anomalies name services
``namespace/service``; an edge endpoint is qualified when exactly one of the incident's
services has that bare name.

>>> qualify("cart", {"cart": {"shop/cart"}})
'shop/cart'
>>> qualify("db", {"db": {"a/db", "b/db"}})
'db'
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from streams.correlate.callgraph import bare
from streams.rca.candidates import service_of
from streams.rca.context import DependencyEdge, IncidentContext
from streams.rca_service.history import HistoryReader

SLACK_MS = 60_000


def qualify(name: str, known: Mapping[str, set[str]]) -> str:
    """``name`` as ``namespace/name`` when the incident knows exactly one such service."""
    matches = known.get(bare(name), set())
    return next(iter(matches)) if len(matches) == 1 and "/" not in name else name


@dataclass
class BuiltContext:
    """The context and how complete it is."""

    context: IncidentContext
    missing_anomalies: list[str] = field(default_factory=list)
    read_ms: float = 0.0


def window(incident: Mapping[str, Any]) -> tuple[int, int]:
    """The incident's time window (ms), with a minute of slack on both sides."""
    end = max(int(incident["updated_ts"]), int(incident.get("resolved_ts") or 0))
    return int(incident["opened_ts"]) - SLACK_MS, end + SLACK_MS


def build(incident: Mapping[str, Any], reader: HistoryReader, lookback_ms: int,
          wait_s: float = 0.0, poll_s: float = 0.2) -> BuiltContext:
    """Read the incident's history; waits up to ``wait_s`` for members still in flight
    to the history tables (the sink writes them within about a second)."""
    started = time.perf_counter()
    cluster = str(incident["cluster"])
    ids = list(incident["anomaly_ids"])
    deadline = time.monotonic() + wait_s
    while True:
        anomalies = reader.anomalies(cluster, ids)
        found = {a["anomaly_id"] for a in anomalies}
        missing = [i for i in ids if i not in found]
        if not missing or time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    anomalies += reader.alerts_as_anomalies(cluster, list(incident["alert_fingerprints"]))
    start, end = window(incident)

    known: dict[str, set[str]] = defaultdict(set)
    for svc in incident.get("services") or ():
        known[bare(svc)].add(svc)
    for a in anomalies:
        svc = service_of(a.get("labels") or {})
        if a["entity_type"] == "SERVICE":
            svc = a["entity"]
        if svc:
            known[bare(svc)].add(svc)
    edges = [DependencyEdge(qualify(p, known), qualify(c, known), rate, err, lat)
             for p, c, rate, err, lat in reader.edges(cluster, sorted(known),
                                                      start - lookback_ms, end)]
    logs = reader.log_events(cluster, list(incident.get("namespaces") or ()), start, end,
                             max(lookback_ms, end - start))
    traces = [replace(tr, service=qualify(svc, known))
              for svc, tr in reader.traces(cluster, sorted(known), start, end)]
    nodes = sorted({str(a["entity"]) for a in anomalies if a["entity_type"] == "NODE"})
    ctx = IncidentContext(
        incident_id=str(incident["incident_id"]), cluster=cluster, anomalies=anomalies,
        edges=edges, log_events=logs, traces=traces, window_start_ts=start,
        window_end_ts=end, node_services=reader.node_services(cluster, nodes, start, end))
    return BuiltContext(ctx, missing, (time.perf_counter() - started) * 1000.0)
