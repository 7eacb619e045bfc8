"""Prometheus metrics of the notifier (own registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.ops_server import start_http_server


class NotifyTelemetry:
    """Counters, gauges and a latency histogram exported on /metrics."""

    def __init__(self) -> None:
        self.registry = reg = CollectorRegistry()
        self.inputs = Counter("aiops_notify_inputs_total", "Input records read",
                              ["topic"], registry=reg)
        self.attempts = Counter("aiops_notify_attempts_total", "Delivery attempts",
                                ["endpoint", "status"], registry=reg)
        self.deliveries = Counter("aiops_notify_deliveries_total",
                                  "Deliveries reaching a final state", ["endpoint", "state"],
                                  registry=reg)
        self.latency = Histogram("aiops_notify_attempt_latency_seconds",
                                 "Latency of delivery attempts", ["endpoint"], registry=reg)
        self.pending = Gauge("aiops_notify_pending_deliveries", "Deliveries waiting",
                             registry=reg)
        self.breaker_open = Gauge("aiops_notify_breaker_open", "1 while an endpoint's breaker "
                                  "is open", ["endpoint"], registry=reg)
        self.dead_letters = Counter("aiops_notify_dead_letters_total",
                                    "Records sent to the dead-letter topic", ["stage"],
                                    registry=reg)

    def serve(self, port: int) -> None:
        """Expose /metrics on ``port`` (0: do nothing)."""
        if port:
            start_http_server(port, registry=self.registry)
