"""Prometheus metrics of the detect worker (one registry per worker instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.ops_server import start_http_server


class DetectMetrics:
    """Samples processed, anomalies emitted, live/evicted series, checkpoint latency, lag."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.samples = Counter("aiops_detect_samples_total", "Samples processed.", ["topic"],
                               registry=r)
        self.messages = Counter("aiops_detect_messages_total", "Input records processed.",
                                ["topic"], registry=r)
        self.anomalies = Counter("aiops_detect_anomalies_total", "Anomalies emitted.", ["type"],
                                 registry=r)
        self.dead = Counter("aiops_detect_dead_letters_total",
                            "Input records sent to the dead-letter topic.", ["topic"], registry=r)
        self.evicted = Counter("aiops_detect_series_evicted_total", "Stale series evicted.",
                               ["topic"], registry=r)
        self.live = Gauge("aiops_detect_series_live", "Series (or GPUs) with state.", ["topic"],
                          registry=r)
        self.partitions = Gauge("aiops_detect_partitions_assigned", "Partitions owned.",
                                registry=r)
        self.lag = Gauge("aiops_detect_lag_messages", "Records behind the high watermark.",
                         registry=r)
        self.batch_seconds = Histogram("aiops_detect_batch_seconds",
                                       "Detection time per partition batch.", registry=r)
        self.checkpoint_seconds = Histogram("aiops_detect_checkpoint_seconds",
                                            "Time to write one partition checkpoint.",
                                            registry=r)
        self.checkpoint_bytes = Gauge("aiops_detect_checkpoint_bytes",
                                      "Size of the last checkpoint.", ["topic"], registry=r)

    def serve(self, port: int, addr: str = "0.0.0.0") -> int:
        """Expose /metrics on ``port`` (0: a free one); return the port."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return int(server.server_port)
