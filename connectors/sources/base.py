"""Pull-collector family: one :class:`Source` per scrape job.

A source discovers its targets, scrapes each on the job's interval (all targets
concurrently on one asyncio loop, each with its own timeout), turns the answer
into columnar batches and hands them to the :class:`KafkaPublisher`. Every
scrape ends in a :class:`ScrapeOutcome` (up, duration, samples, capabilities
seen) that the registry feed and the self-metrics read.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from connectors.publish.kafka import KafkaPublisher
from connectors.sources.config import GlobalConfig, JobConfig
from connectors.sources.discovery import Discoverer, Target
from streams.logs_setup import get_logger

if TYPE_CHECKING:
    from streams.scrape.metrics import ScrapeMetrics

log = get_logger(__name__)

ACCEPT = ("application/openmetrics-text;version=1.0.0;q=0.75,"
          "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
MAX_SAMPLES_PER_BATCH = 50_000


class ScrapeError(Exception):
    """A scrape failed; ``reason`` is a short label for metrics (http, timeout, parse ...)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass
class ScrapeOutcome:
    """What one scrape of one target produced."""

    target: Target
    ts_ms: int
    up: bool
    duration_s: float
    samples: int = 0
    published: int = 0
    error: str | None = None
    capabilities: set[str] = field(default_factory=set)
    gpus: dict[str, str] = field(default_factory=dict)  # uuid -> model


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def http_client(job: JobConfig, timeout_s: float) -> httpx.AsyncClient:
    """An HTTP client with the job's TLS options (the bearer token goes per request)."""
    tls = job.tls_config
    ctx = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.cert_file and tls.key_file:  # client certificate (mTLS)
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    return httpx.AsyncClient(verify=ctx, timeout=timeout_s, follow_redirects=True,
                             trust_env=False)


class Source:
    """Base pull collector: ``start()`` runs the scrape loops, ``stop()`` ends them.

    Subclasses implement :meth:`collect` (fetch + convert + publish one target).
    """

    kind = "prometheus"

    def __init__(self, job: JobConfig, glob: GlobalConfig, cluster: str,
                 publisher: KafkaPublisher, metrics: ScrapeMetrics | None = None) -> None:
        self.job = job
        self.cluster = cluster
        self.publisher = publisher
        self.metrics = metrics
        self.interval_s = job.interval_s(glob)
        self.timeout_s = job.timeout_s(glob)
        self.discoverer = Discoverer(job)
        self.outcomes: dict[tuple[str, str], ScrapeOutcome] = {}
        self._client: httpx.AsyncClient | None = None
        self._tasks: dict[tuple[str, str], asyncio.Task] = {}
        self._supervisor: asyncio.Task | None = None

    # -- lifecycle -----------------------------------------------------------------
    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            try:
                self._client = http_client(self.job, self.timeout_s)
            except (OSError, ssl.SSLError) as exc:
                raise ScrapeError("tls", f"job {self.job.job_name}: tls_config: {exc}") from exc
        return self._client

    async def start(self) -> None:
        """Begin scraping every discovered target on the job's interval."""
        self._supervisor = asyncio.create_task(self._supervise(), name=f"job-{self.job.job_name}")

    async def stop(self) -> None:
        """Cancel the scrape loops and close the HTTP client."""
        tasks = [*self._tasks.values(), *([self._supervisor] if self._supervisor else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _supervise(self) -> None:
        refresh = min(self.interval_s, 30.0)
        current: dict[tuple[str, str], Target] = {}
        while True:
            targets = {t.key(): t for t in self.discoverer.targets()}
            for key in list(self._tasks):
                if targets.get(key) != current.get(key):  # gone, or its labels changed
                    self._tasks.pop(key).cancel()
                    self.outcomes.pop(key, None)
                    self.forget(key)
            for key, target in targets.items():
                if key not in self._tasks:
                    self._tasks[key] = asyncio.create_task(self._loop(target))
            current = targets
            if self.metrics is not None:
                self.metrics.targets.labels(self.kind, self.job.job_name).set(len(targets))
            await asyncio.sleep(refresh)

    async def _loop(self, target: Target) -> None:
        # spread targets over the interval so scrapes do not all fire at once
        await asyncio.sleep(random.uniform(0, min(self.interval_s, 5.0)))
        while True:
            started = time.monotonic()
            await self.scrape(target)
            await asyncio.sleep(max(self.interval_s - (time.monotonic() - started), 0.0))

    # -- one scrape ----------------------------------------------------------------
    async def scrape(self, target: Target) -> ScrapeOutcome:
        """Scrape one target now, publish the result and record the outcome."""
        ts = now_ms()
        t0 = time.perf_counter()
        try:
            outcome = await self.collect(target, ts)
        except ScrapeError as exc:
            outcome = ScrapeOutcome(target, ts, False, time.perf_counter() - t0, error=str(exc))
            self._count_error(exc.reason)
            log.warning("scrape failed", job=self.job.job_name, target=target.address,
                        error=str(exc))
            self.publish_failure(target, ts, outcome.duration_s)
        except Exception as exc:  # noqa: BLE001 - one bad scrape must not end the loop
            outcome = ScrapeOutcome(target, ts, False, time.perf_counter() - t0,
                                    error=f"internal: {exc!r}")
            self._count_error("internal")
            log.exception("scrape crashed", job=self.job.job_name, target=target.address)
        outcome.duration_s = time.perf_counter() - t0
        self.outcomes[target.key()] = outcome
        if self.metrics is not None:
            self.metrics.observe(self.kind, self.job.job_name, outcome)
        return outcome

    async def fetch(self, target: Target, path: str | None = None,
                    params: dict[str, list[str]] | None = None) -> httpx.Response:
        """GET ``scheme://address/path`` with the job's auth; ScrapeError on failure."""
        url = f"{self.job.scheme}://{target.address}{path or self.job.metrics_path}"
        headers = {"Accept": ACCEPT, "X-Prometheus-Scrape-Timeout-Seconds": str(self.timeout_s)}
        token = self.job.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            resp = await self.client.get(url, params=params or self.job.params or None,
                                         headers=headers, timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            raise ScrapeError("timeout", f"{url}: no answer within {self.timeout_s}s") from exc
        except httpx.HTTPError as exc:
            raise ScrapeError("connect", f"{url}: {exc!r}") from exc
        if resp.status_code != 200:
            raise ScrapeError("http", f"{url}: HTTP {resp.status_code}: {resp.text[:200]}")
        return resp

    def _count_error(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.errors.labels(self.kind, self.job.job_name, reason).inc()

    # -- for subclasses ------------------------------------------------------------
    async def collect(self, target: Target, ts: int) -> ScrapeOutcome:
        raise NotImplementedError

    def publish_failure(self, target: Target, ts: int, duration_s: float) -> None:
        """Publish what a failed scrape leaves (``up`` 0), if the source does that."""

    def forget(self, key: tuple[str, str]) -> None:
        """Drop per-target state of a target that disappeared."""
