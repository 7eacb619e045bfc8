"""One API per test module over a private database and private topics on the session stack."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka.admin import AdminClient, NewTopic
from fastapi import FastAPI

from api.app import create_app
from api.auth.principal import Role
from api.auth.tokens import TokenStore
from api.db import ClickHousePool
from api.live import LiveHub, TopicRelay
from api.registry import Registry
from api.services import Services
from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import MIGRATIONS_DIR, migrate
from connectors.sinks.metric_rollups import build_rollups
from streams.settings import Settings
from tests.api import data
from tests.api.server import serve


@dataclass
class ApiEnv:
    """A served API with tokens for every role and scope."""

    url: str
    services: Services
    topics: dict[str, str]
    ids: dict[str, dict[str, str]]
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None = "admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, trust_env=False)


def create_topics(bootstrap: str, names: dict[str, bool]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([
        NewTopic(t, 2, 1, config={"cleanup.policy": "compact"} if compact else {})
        for t, compact in names.items()])
    for fut in futures.values():
        fut.result(30)


def make_services(stack, settings: Settings, topics: dict[str, str]) -> Services:
    hub = LiveHub(settings.api_stream_queue)
    url, db = stack.clickhouse_url, settings.clickhouse_database
    return Services(
        settings=settings, bootstrap=stack.bootstrap, pool=ClickHousePool(url, db),
        registry=Registry(stack.bootstrap, hub, topic=topics["clusters"],
                          offline_after_s=settings.api_offline_after_s, check_interval_s=0.5),
        hub=hub, tokens=TokenStore(connect(url, db), db),
        relay=TopicRelay(stack.bootstrap, hub, topics={
            topics["anomalies"]: ("anomaly", "ANOMALY"),
            topics["incidents"]: ("incident", "INCIDENT"),
            topics["alerts"]: ("alert", "ALERT")}))


# beyond 0001..0014: the notifier's log and routing (0020), the rollup builder's (0041)
API_MIGRATIONS = {20, 41}


def api_migrations(tmp: Path) -> Path:
    """The migrations the API reads (0001..0014: history tables and the API's own; 0020,
    0041)."""
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if int(path.name[:4]) <= 14 or int(path.name[:4]) in API_MIGRATIONS:
            shutil.copy(path, tmp / path.name)
    return tmp


@dataclass
class ServedApi:
    """What :func:`served_api` started: the app on a URL and what it was built from."""

    url: str
    app: FastAPI
    services: Services
    settings: Settings
    topics: dict[str, str]
    ids: dict[str, dict[str, str]]
    tokens: dict[str, str]


@contextmanager
def served_api(stack, tmp: Path, prefix: str, tokens: dict[str, tuple[str, Role, list[str]]],
               seed: Callable[[Client], None] | None = None,
               **settings: Any) -> Iterator[ServedApi]:
    """An API over a private database (``data`` loaded, then ``seed``) and private topics,
    the registry seeded with ``data.CLUSTERS``; ``tokens``: name -> (label, role, clusters)."""
    uid = uuid.uuid4().hex[:10]
    db = f"{prefix}_{uid}"
    admin_client = connect(stack.clickhouse_url)
    migrate(admin_client, db, api_migrations(tmp))
    db_client = connect(stack.clickhouse_url, db)
    ids = data.load(db_client)
    build_rollups(lambda: db_client, db)  # as the sink's builders would
    if seed is not None:
        seed(db_client)
    topics = {k: f"{prefix}.{k}.{uid}" for k in ("clusters", "anomalies", "incidents", "alerts")}
    create_topics(stack.bootstrap, {t: k == "clusters" for k, t in topics.items()})
    config = Settings(**{"clickhouse_database": db, "api_rate_limit_per_min": 100_000,
                         "api_expensive_rate_limit_per_min": 100_000, **settings})
    services = make_services(stack, config, topics)
    made = {name: services.tokens.create(label, role, clusters)[0]
            for name, (label, role, clusters) in tokens.items()}
    now = int(time.time() * 1000)
    registry = Registry(stack.bootstrap, None, topic=topics["clusters"])
    for name in data.CLUSTERS:
        registry.put(data.cluster_record(name, last_seen_ms=now,
                                         gpus=2 if name != "charlie" else 0,
                                         ptp=name == "alpha"))
    registry.stop()
    app = create_app(config, services)
    try:
        with serve(app) as url:
            yield ServedApi(url, app, services, config, topics, ids, made)
    finally:
        admin_client.command(f"DROP DATABASE IF EXISTS `{db}`")


@pytest.fixture(scope="module")
def api_env(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    tokens = {"admin": ("admin", Role.ADMIN, []), "operator": ("op", Role.OPERATOR, []),
              "viewer": ("viewer", Role.VIEWER, []),
              "alpha": ("alpha-only", Role.VIEWER, ["alpha"]),
              "alpha_admin": ("alpha-admin", Role.ADMIN, ["alpha"])}
    with served_api(stack, tmp_path_factory.mktemp("migrations"), "api", tokens,
                    api_stream_heartbeat_s=1.0) as served:
        yield ApiEnv(served.url, served.services, served.topics, served.ids, served.tokens)
