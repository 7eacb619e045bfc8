"""Notifier fixtures: a migrated private database and a worker running in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import migrate
from connectors.notify.delivery import RetryPolicy
from streams.kafka import admin
from streams.notify.worker import NotifyConfig, NotifyWorker


@dataclass
class NotifyEnv:
    """Addresses and names private to one test."""

    bootstrap: str
    clickhouse_url: str
    client: Client
    db: str
    cluster: str
    group: str
    tmp: Path

    def routes(self, text: str) -> Path:
        path = self.tmp / "routes.yaml"
        path.write_text(text)
        return path

    def config(self, routes: Path, **overrides: object) -> NotifyConfig:
        values: dict[str, object] = dict(
            group=self.group, routes_path=routes, api_base_url="http://api.test",
            retry=RetryPolicy(max_attempts=6, base_s=0.2, max_s=2.0, jitter=0.0),
            breaker_failures=10, breaker_reset_s=1.0, am_refresh_s=2.0, routes_reload_s=0.5)
        values.update(overrides)
        return NotifyConfig(**values)  # type: ignore[arg-type]

    def rows(self, sql: str) -> list[tuple]:
        return self.client.query(sql.replace("{db}", f"`{self.db}`")).result_rows


@pytest.fixture(scope="session")
def notify_topics(stack) -> str:
    admin.apply(stack.bootstrap)
    return stack.bootstrap


@pytest.fixture()
def notify_env(stack, notify_topics, unique, tmp_path) -> NotifyEnv:
    client = connect(stack.clickhouse_url)
    db = f"notify_{unique}"
    migrate(client, db)
    return NotifyEnv(notify_topics, stack.clickhouse_url, client, db, f"c-{unique}",
                     f"notify-{unique}", tmp_path)


@contextmanager
def running(worker: NotifyWorker) -> Iterator[NotifyWorker]:
    """Run ``worker`` in a thread; stop and join it afterwards."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            worker.run(idle_poll_s=0.1)
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        wait_for(lambda: worker.ready.is_set() or errors, 90, "partition assignment")
        yield worker
    finally:
        worker.stop()
        thread.join(30)
    if errors:
        raise errors[0]


def wait_for(check: Callable[[], object], timeout: float = 30.0, what: str = "condition"):
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
