"""Self-metrics of the scrape worker (served on /metrics).

Each :class:`ScrapeMetrics` owns its registry, so several workers (tests) never
clash on the process-global default registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from connectors.publish.kafka import KafkaPublisher
    from connectors.sources.base import ScrapeOutcome


class PublisherCollector(Collector):
    """Exposes a :class:`KafkaPublisher`'s counters and spool state."""

    def __init__(self, publisher: KafkaPublisher) -> None:
        self.publisher = publisher

    def collect(self) -> Iterator[Metric]:
        s = self.publisher.stats()
        for name, key, doc in (
            ("aiops_publish_records_published", "published", "Records handed to the publisher."),
            ("aiops_publish_records_delivered", "delivered", "Records acknowledged by Kafka."),
            ("aiops_publish_records_failed", "failed", "Records Kafka rejected permanently."),
            ("aiops_publish_records_spooled", "spooled", "Records written to the spool."),
            ("aiops_publish_records_replayed", "replayed", "Records replayed from the spool."),
            ("aiops_publish_records_dropped", "dropped", "Records dropped: spool full."),
            ("aiops_publish_outages", "outages", "Times Kafka became unreachable."),
        ):
            yield CounterMetricFamily(name, doc, value=s[key])
        yield CounterMetricFamily("aiops_publish_delivered_bytes", "Bytes acknowledged.",
                                  value=s["delivered_bytes"])
        yield GaugeMetricFamily("aiops_publish_spool_depth_records", "Records in the spool.",
                                value=s["spool_depth"])
        yield GaugeMetricFamily("aiops_publish_spool_size_bytes", "Bytes in the spool.",
                                value=s["spool_bytes"])
        yield GaugeMetricFamily("aiops_publish_online_ratio", "1 while Kafka is reachable.",
                                value=1.0 if s["online"] else 0.0)
        yield from self.publisher.latency.collect()


class ScrapeMetrics:
    """Counters per source kind and job; ``registry`` is what /metrics serves."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        lbl = ["source", "job"]
        self.scraped = Counter("aiops_scrape_samples_scraped_total",
                               "Samples read from targets.", lbl, registry=r)
        self.published = Counter("aiops_scrape_samples_published_total",
                                 "Samples handed to the publisher.", lbl, registry=r)
        self.dropped = Counter("aiops_scrape_samples_dropped_total",
                               "Samples not published, by reason.", [*lbl, "reason"], registry=r)
        self.errors = Counter("aiops_scrape_errors_total", "Failed scrapes, by reason.",
                              [*lbl, "reason"], registry=r)
        self.duration = Histogram("aiops_scrape_duration_seconds",
                                  "Scrape duration (fetch, parse, encode, publish).", lbl,
                                  registry=r, buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5,
                                                       5, 10, 30))
        self.targets = Gauge("aiops_scrape_targets", "Discovered targets.", lbl, registry=r)
        self.up = Gauge("aiops_scrape_target_up_ratio", "Share of targets up at last scrape.",
                        lbl, registry=r)
        self.heartbeats = Counter("aiops_scrape_heartbeats_total",
                                  "ClusterRecords published.", registry=r)

    def observe(self, kind: str, job: str, outcome: ScrapeOutcome) -> None:
        self.scraped.labels(kind, job).inc(outcome.samples)
        self.published.labels(kind, job).inc(outcome.published)
        self.duration.labels(kind, job).observe(outcome.duration_s)

    def watch_publisher(self, publisher: KafkaPublisher) -> None:
        self.registry.register(PublisherCollector(publisher))
