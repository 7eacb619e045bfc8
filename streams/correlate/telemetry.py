"""Prometheus metrics of the correlator (own registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from streams.ops_server import start_http_server


class CorrelateTelemetry:
    """Counters and gauges exported on /metrics."""

    def __init__(self) -> None:
        self.registry = reg = CollectorRegistry()
        self.members = Counter("aiops_correlate_members_total", "Members processed",
                               ["kind"], registry=reg)
        self.published = Counter("aiops_correlate_incident_versions_total",
                                 "Incident versions published", ["status"], registry=reg)
        self.dead_letters = Counter("aiops_correlate_dead_letters_total",
                                    "Records sent to the dead-letter topic", ["topic"],
                                    registry=reg)
        self.open_incidents = Gauge("aiops_correlate_open_incidents",
                                    "Open incidents held by this worker", registry=reg)
        self.graph_edges = Gauge("aiops_correlate_callgraph_services",
                                 "Services in the loaded call graph", registry=reg)
        self.graph_failures = Counter("aiops_correlate_callgraph_failures_total",
                                      "Failed call-graph reloads", registry=reg)
        self.ticks_deferred = Counter(
            "aiops_correlate_ticks_deferred_total",
            "Quiet-period checks put off because the input topics had a backlog", registry=reg)

    def serve(self, port: int) -> None:
        """Expose /metrics on ``port`` (0: do nothing)."""
        if port:
            start_http_server(port, registry=self.registry)
