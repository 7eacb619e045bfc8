"""Everything a running API holds: ClickHouse pool, registry, live hub, auth, limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from api.auth.tokenreview import TokenReviewer, parse_group_roles
from api.auth.tokens import TokenStore
from api.db import ClickHousePool
from api.live import LiveHub, TopicRelay
from api.ratelimit import RateLimiter
from api.registry import Registry
from api.telemetry import ApiTelemetry
from connectors.clickhouse.client import connect
from streams.settings import Settings


@dataclass
class Services:
    """The API's collaborators (started and stopped by the app's lifespan)."""

    settings: Settings
    bootstrap: str
    pool: ClickHousePool
    registry: Registry
    hub: LiveHub
    tokens: TokenStore
    relay: TopicRelay | None = None
    reviewer: TokenReviewer | None = None
    limiter: RateLimiter = field(default_factory=RateLimiter)
    telemetry: ApiTelemetry = field(default_factory=ApiTelemetry)
    started: bool = False

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        self.registry.start()
        if self.relay:
            self.relay.start()
        self.registry.wait_ready(30)
        if self.relay:
            self.relay.assigned.wait(30)

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        if self.relay:
            self.relay.stop()
        self.registry.stop()
        if self.reviewer:
            self.reviewer.close()
        self.pool.close()


def build_services(settings: Settings, bootstrap: str, clickhouse_url: str,
                   *, relay: bool = True) -> Services:
    """Services from settings (not started)."""
    database = settings.clickhouse_database
    hub = LiveHub(settings.api_stream_queue)
    reviewer = None
    if settings.api_tokenreview_url:
        reviewer = TokenReviewer(
            settings.api_tokenreview_url, parse_group_roles(settings.api_group_roles),
            credentials=settings.api_tokenreview_token_file,
            ca_file=settings.api_tokenreview_ca_file, cache_s=settings.api_tokenreview_cache_s)
    telemetry = ApiTelemetry()
    return Services(
        settings=settings, bootstrap=bootstrap,
        pool=ClickHousePool(clickhouse_url, database),
        registry=Registry(bootstrap, hub, offline_after_s=settings.api_offline_after_s,
                          degraded_health=settings.api_degraded_health),
        hub=hub, tokens=TokenStore(connect(clickhouse_url, database), database),
        relay=TopicRelay(bootstrap, hub, lag=telemetry.stream_relay_lag) if relay else None,
        reviewer=reviewer, telemetry=telemetry)
