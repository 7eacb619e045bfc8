"""Prometheus metrics of the history sink (own registry, so tests can run several)."""

from __future__ import annotations

import time
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
        self.rollup_lag_blocks = Gauge(
            "aiops_sink_rollup_lag_blocks",
            "Inserted metrics blocks not yet aggregated into the table (rollup builder)",
            ["table"], registry=reg)
        self.rollup_lag_seconds = Gauge(
            "aiops_sink_rollup_lag_seconds",
            "Age bound of the oldest sample not rolled up yet: seconds since the start of "
            "the table's last builder run that left no inserted block behind", ["table"],
            registry=reg)
        self.rollup_built_block = Gauge(
            "aiops_sink_rollup_built_block",
            "Metrics blocks up to this number are rolled up into the table", ["table"],
            registry=reg)
        # table -> wall time: blocks committed before it are rolled up (builders only)
        self.rollup_caught_up: dict[str, float] = {}
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

    def built(self, table: str, rows: int, seconds: float) -> None:
        """A builder's insert (rollups): counted per table, not in ``rows_total``."""
        self.rows.labels(table).inc(rows)
        self.batches.labels(table).inc()
        self.insert_seconds.labels(table).observe(seconds)

    def lagged(self, topic: str, seconds: float) -> None:
        self.lag.labels(topic).observe(seconds)
        if self.keep_lags:
            self.recent_lags.append(seconds)

    def rollup_progress(self, table: str, started: float, built: int,
                        lag_blocks: int) -> None:
        """Record a rollup builder's position after a run that began at ``started``."""
        if table not in self.rollup_caught_up:  # this sink builds: the lag is live from now
            self.rollup_caught_up[table] = started
            self.rollup_lag_seconds.labels(table).set_function(
                lambda: time.time() - self.rollup_caught_up[table])
        if lag_blocks == 0:
            self.rollup_caught_up[table] = started
        self.rollup_built_block.labels(table).set(built)
        self.rollup_lag_blocks.labels(table).set(lag_blocks)
