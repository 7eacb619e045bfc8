"""Prometheus metrics of the history sink (own registry, so tests can run several)."""

from __future__ import annotations

from collections import deque

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.ops_server import start_http_server

LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)


class SinkTelemetry:
    """Counters and histograms exported on /metrics; recent lags kept for benchmarks."""

    def __init__(self, keep_lags: int = 0) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.rows = Counter("aiops_sink_rows_inserted_total", "Rows inserted", ["table"],
                            registry=reg)
        self.batches = Counter("aiops_sink_batches_total", "Batches (inserts) written",
                               ["table"], registry=reg)
        self.insert_seconds = Histogram("aiops_sink_insert_seconds", "Insert latency",
                                        ["table"], registry=reg)
        self.dead_letters = Counter("aiops_sink_dead_letters_total",
                                    "Records sent to the dead-letter topic", ["topic", "stage"],
                                    registry=reg)
        self.failures = Counter("aiops_sink_insert_failures_total",
                                "Failed write attempts (retried)", registry=reg)
        self.lag = Histogram("aiops_sink_lag_seconds",
                             "Produce time to queryable in ClickHouse", ["topic"],
                             buckets=LAG_BUCKETS, registry=reg)
        self.paused = Gauge("aiops_sink_paused", "1 while consumption is paused", registry=reg)
        self.pending_rows = Gauge("aiops_sink_pending_rows", "Rows waiting in batches",
                                  registry=reg)
        self.recent_lags: deque[float] = deque(maxlen=keep_lags or 1)
        self.keep_lags = keep_lags > 0
        self.rows_total = 0

    def serve(self, port: int) -> None:
        """Expose /metrics on ``port`` (0: do nothing)."""
        if port:
            start_http_server(port, registry=self.registry)

    def inserted(self, table: str, rows: int, seconds: float) -> None:
        self.rows.labels(table).inc(rows)
        self.batches.labels(table).inc()
        self.insert_seconds.labels(table).observe(seconds)
        self.rows_total += rows

    def lagged(self, topic: str, seconds: float) -> None:
        self.lag.labels(topic).observe(seconds)
        if self.keep_lags:
            self.recent_lags.append(seconds)
