"""Prometheus metrics of the RCA worker (own registry, so tests can run several)."""

from __future__ import annotations

from collections import deque

from prometheus_client import CollectorRegistry, Counter, Histogram

from streams.ops_server import start_http_server

BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


class RcaTelemetry:
    """Counters and histograms exported on /metrics; recent latencies kept for benchmarks."""

    def __init__(self, keep: int = 0) -> None:
        self.registry = reg = CollectorRegistry()
        self.reports = Counter("aiops_rca_reports_total", "Reports published", ["provider"],
                               registry=reg)
        self.skipped = Counter("aiops_rca_skipped_total", "Incident versions not analysed",
                               ["reason"], registry=reg)
        self.failures = Counter("aiops_rca_failures_total", "Failed analyses (retried)",
                                registry=reg)
        self.dead_letters = Counter("aiops_rca_dead_letters_total",
                                    "Records sent to the dead-letter topic", ["stage"],
                                    registry=reg)
        self.missing = Counter("aiops_rca_missing_anomalies_total",
                               "Member anomalies not found in history", registry=reg)
        self.seconds = Histogram("aiops_rca_analysis_seconds",
                                 "History read + ranking + explanation", ["stage"],
                                 buckets=BUCKETS, registry=reg)
        self.recent: deque[float] = deque(maxlen=keep or 1)

    def serve(self, port: int) -> None:
        """Expose /metrics on ``port`` (0: do nothing)."""
        if port:
            start_http_server(port, registry=self.registry)
