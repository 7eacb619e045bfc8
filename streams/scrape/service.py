"""The scrape worker: every configured source, the registry heartbeat and /metrics.

One asyncio loop runs all scrape loops (I/O bound: httpx async), the publisher
poller and the heartbeat. Parsing and encoding happen on the loop thread; with
the series cache they cost ~1 us per sample, far below a scrape interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from connectors.publish.kafka import KafkaPublisher
from connectors.registry_feed import RegistryFeed
from connectors.sources.base import ScrapeOutcome, Source
from connectors.sources.cnf import CnfSource
from connectors.sources.config import JobConfig, ScrapeConfig, parse_duration
from connectors.sources.dcgm import DcgmSource
from connectors.sources.prometheus import PrometheusSource
from connectors.sources.query import QueryApiSource
from streams.logs_setup import get_logger
from streams.ops_server import start_http_server
from streams.scrape.metrics import ScrapeMetrics

log = get_logger(__name__)

SOURCES: dict[str, type[Source]] = {
    "prometheus": PrometheusSource, "federate": PrometheusSource, "query": QueryApiSource,
    "dcgm": DcgmSource, "cnf": CnfSource,
}


def make_source(job: JobConfig, config: ScrapeConfig, publisher: KafkaPublisher,
                metrics: ScrapeMetrics | None) -> Source:
    """The Source implementation for a job's ``source`` kind."""
    return SOURCES[job.source](job, config.global_, config.cluster.name, publisher, metrics)


class ScrapeService:
    """Runs ``aiops scrape`` until :meth:`stop` (or cancellation)."""

    def __init__(self, config: ScrapeConfig, publisher: KafkaPublisher,
                 metrics: ScrapeMetrics | None = None) -> None:
        self.config = config
        self.publisher = publisher
        self.metrics = metrics or ScrapeMetrics()
        self.metrics.watch_publisher(publisher)
        self.sources = [make_source(j, config, publisher, self.metrics)
                        for j in config.scrape_configs]
        self.feed = RegistryFeed(config.cluster, publisher)
        self.heartbeat_s = parse_duration(config.heartbeat_interval)
        self._tasks: list[asyncio.Task] = []
        self._stopped = asyncio.Event()

    def outcomes(self) -> list[ScrapeOutcome]:
        """The last outcome of every current target of every job."""
        return [o for s in self.sources for o in s.outcomes.values()]

    def serve_metrics(self, port: int, addr: str = "0.0.0.0") -> int:
        """Start the /metrics HTTP server (a daemon thread); returns the bound port."""
        server, _thread = start_http_server(port, addr, registry=self.metrics.registry)
        return int(server.server_port)

    async def start(self) -> None:
        for source in self.sources:
            await source.start()
        self._tasks = [asyncio.create_task(self._poll_publisher()),
                       asyncio.create_task(self._heartbeat())]
        log.info("scraping", cluster=self.config.cluster.name,
                 jobs=[j.job_name for j in self.config.scrape_configs])

    async def stop(self) -> None:
        for source in self.sources:
            await source.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.publisher.online:  # offline, the spool keeps everything anyway
            await asyncio.to_thread(self.publisher.flush, 10.0)
        self._stopped.set()

    async def run(self) -> None:
        """Start, wait until stopped or cancelled, then stop cleanly."""
        await self.start()
        try:
            await self._stopped.wait()
        finally:
            with contextlib.suppress(Exception):
                await self.stop()

    async def _poll_publisher(self) -> None:
        while True:
            self.publisher.poll(0)
            await asyncio.sleep(0.1)

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self.feed.beat(self.outcomes())
                self.metrics.heartbeats.inc()
            except Exception as exc:  # noqa: BLE001 - a bad beat must not end the worker
                log.error("registry heartbeat failed", error=repr(exc))
            await asyncio.sleep(self.heartbeat_s)


def spool_dir_for(data_dir: Path, cluster: str) -> Path:
    """Default on-disk spool location of a cluster's scraper."""
    return data_dir / "spool" / f"scrape-{cluster}"
