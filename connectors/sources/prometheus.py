"""Prometheus exposition scrape (text 0.0.4 and OpenMetrics) -> MetricBatch on aiops.metrics.

Also serves ``/federate`` pulls (a job with ``metrics_path: /federate``,
``params: {match[]: [...]}`` and usually ``honor_labels: true``), exactly as a
Prometheus federation job does.

Target labels (job, instance, static/file_sd labels) are attached to every
sample. ``honor_labels: false`` (default): on a clash the target's label wins
and the exposed one is kept as ``exported_<name>``; ``true``: the exposed label
wins. Each scrape also carries Prometheus' self-samples ``up``,
``scrape_duration_seconds``, ``scrape_samples_scraped`` and
``scrape_series_added``; a failed scrape publishes ``up`` 0.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from connectors.publish.columnar import SeriesEntry, encode_metric_batch
from connectors.publish.kafka import PublishError
from connectors.sources.base import MAX_SAMPLES_PER_BATCH, ScrapeError, ScrapeOutcome, Source
from connectors.sources.discovery import Target
from connectors.sources.exposition import (
    OPENMETRICS_CONTENT_TYPE,
    ExpositionError,
    ExpositionParser,
)
from schemas.topics import topic_by_name
from streams.logs_setup import get_logger

log = get_logger(__name__)

METRICS_TOPIC = topic_by_name("aiops.metrics").name
MAX_BATCH_BYTES = 6 * 1024 * 1024  # below the topics' 8 MiB max.message.bytes
SELF_SAMPLES = ("up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added")
# metric-name prefixes that reveal a capability of the cluster (registry feed)
CAPABILITY_PREFIXES = {
    "ptp": ("openshift_ptp_", "node_ptp_"),
    "sriov": ("sriov_vf_", "sriov_kubepoddevice"),
    "dpdk": ("dpdk_", "collectd_dpdk_telemetry_"),
    "dcgm": ("DCGM_FI_",),
}


def merge_labels(exposed: dict[str, str], target: dict[str, str], honor: bool) -> dict[str, str]:
    """Prometheus' honor_labels rule.

    >>> merge_labels({"job": "x", "a": "1"}, {"job": "node"}, honor=False)
    {'job': 'node', 'a': '1', 'exported_job': 'x'}
    >>> merge_labels({"job": "x"}, {"job": "node", "instance": "h:1"}, honor=True)
    {'job': 'x', 'instance': 'h:1'}
    """
    out = dict(exposed)
    for key, value in target.items():
        if key in out:
            if honor:
                continue
            if out[key] != value:
                exported = "exported_" + key
                while exported in out:
                    exported = "exported_" + exported
                out[exported] = out[key]
        out[key] = value
    return {k: v for k, v in out.items() if v != ""}


def capabilities_of(name: str) -> set[str]:
    return {cap for cap, prefixes in CAPABILITY_PREFIXES.items() if name.startswith(prefixes)}


@dataclass
class TargetState:
    """Per-target scrape cache and self-sample series."""

    parser: ExpositionParser[SeriesEntry]
    self_entries: list[SeriesEntry]
    capabilities: set[str] = field(default_factory=set)


class PrometheusSource(Source):
    """Scrapes Prometheus exposition endpoints."""

    kind = "prometheus"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.states: dict[tuple[str, str], TargetState] = {}
        if self.job.source == "federate":
            self.kind = "federate"

    # -- per-target state ------------------------------------------------------------
    def state(self, target: Target) -> TargetState:
        st = self.states.get(target.key())
        if st is None:
            caps: set[str] = set()

            def make_entry(name: str, labels: dict[str, str], mtype: str) -> SeriesEntry:
                name, labels = self.rename(name, labels)
                caps.update(capabilities_of(name))
                final = merge_labels(labels, target.labels, self.job.honor_labels)
                return SeriesEntry.build(self.cluster, name, final, mtype)

            selfs = [SeriesEntry.build(self.cluster, n, dict(target.labels), "GAUGE")
                     for n in SELF_SAMPLES]
            st = TargetState(ExpositionParser(make_entry), selfs, caps)
            self.states[target.key()] = st
        return st

    def forget(self, key: tuple[str, str]) -> None:
        self.states.pop(key, None)

    def rename(self, name: str, labels: dict[str, str]) -> tuple[str, dict[str, str]]:
        """Hook for subclasses that alias metric names (CNF)."""
        return name, labels

    def adjust(self, entries: list[SeriesEntry], values: list[float],
               timestamps: list[int]) -> None:
        """Hook for subclasses that post-process values in place (CNF sentinels)."""

    # -- scrape ---------------------------------------------------------------------------
    async def collect(self, target: Target, ts: int) -> ScrapeOutcome:
        t0 = time.perf_counter()
        resp = await self.fetch(target)
        ctype = resp.headers.get("content-type", "")
        body = resp.text
        return self.ingest(target, ts, body, ctype.startswith(OPENMETRICS_CONTENT_TYPE), t0)

    def ingest(self, target: Target, ts: int, body: str, openmetrics: bool,
               t0: float) -> ScrapeOutcome:
        """Parse one exposition body, publish it with the self-samples; the outcome."""
        st = self.state(target)
        try:
            parsed = st.parser.parse(body, default_ts=ts, openmetrics=openmetrics)
        except ExpositionError as exc:
            raise ScrapeError("parse", str(exc)) from exc
        n = len(parsed.entries)
        if self.job.sample_limit and n > self.job.sample_limit:
            if self.metrics is not None:
                self.metrics.dropped.labels(self.kind, self.job.job_name, "sample_limit").inc(n)
            raise ScrapeError("sample_limit", f"{n} samples > sample_limit "
                                              f"{self.job.sample_limit}")
        self.adjust(parsed.entries, parsed.values, parsed.timestamps)
        entries = parsed.entries + st.self_entries
        duration = time.perf_counter() - t0
        values = parsed.values + [1.0, duration, float(n), float(parsed.new_series)]
        timestamps = parsed.timestamps + [ts] * len(SELF_SAMPLES)
        published = self.publish(target, ts, entries, values, timestamps)
        caps = set(st.capabilities)
        if self.kind in ("federate", "cnf"):
            caps.add("prometheus")  # a Prometheus/Thanos answered
        return ScrapeOutcome(target, ts, True, duration, samples=n, published=published,
                             capabilities=caps)

    def publish_failure(self, target: Target, ts: int, duration_s: float) -> None:
        st = self.state(target)
        self.publish(target, ts, st.self_entries[:2], [0.0, duration_s], [ts, ts])

    def publish(self, target: Target, ts: int, entries: list[SeriesEntry],
                values: list[float], timestamps: list[int]) -> int:
        """Encode and publish as MetricBatches (split above MAX_SAMPLES_PER_BATCH samples or
        MAX_BATCH_BYTES); returns the samples handed to the publisher."""
        key = f"{self.cluster}/{target.job}/{target.instance}".encode()
        label = f"{target.job}/{target.instance}"
        sent = 0
        for lo in range(0, max(len(entries), 1), MAX_SAMPLES_PER_BATCH):
            hi = lo + MAX_SAMPLES_PER_BATCH
            sent += self._publish_chunk(key, label, ts, entries[lo:hi], values[lo:hi],
                                        timestamps[lo:hi])
        return sent

    def _publish_chunk(self, key: bytes, label: str, ts: int, entries: list[SeriesEntry],
                       values: list[float], timestamps: list[int]) -> int:
        value = encode_metric_batch(uuid.uuid4().hex, self.cluster, self.kind, label, ts,
                                    entries, values, timestamps)
        if len(value) > MAX_BATCH_BYTES and len(entries) > 1:
            mid = len(entries) // 2
            return (self._publish_chunk(key, label, ts, entries[:mid], values[:mid],
                                        timestamps[:mid])
                    + self._publish_chunk(key, label, ts, entries[mid:], values[mid:],
                                          timestamps[mid:]))
        try:
            self.publisher.publish(METRICS_TOPIC, key, value)
        except PublishError as exc:
            if self.metrics is not None:
                self.metrics.dropped.labels(self.kind, self.job.job_name, "refused").inc(
                    len(entries))
            log.error("batch refused by the producer", target=label, samples=len(entries),
                      error=str(exc))
            return 0
        return len(entries)
