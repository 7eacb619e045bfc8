"""Session fixtures: one real local stack (Kafka KRaft + ClickHouse) on free ports.

The stack lives in a temporary data dir with port 0 everywhere, so tests never
touch a developer's own running stack. Jars are cached in the usual cache dir
(``AIOPS_CACHE_DIR``) so only the first run pays Maven's download.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.settings import Settings
from streams.stack.manager import LocalStack

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The read-only evaluation/sample folder beside the repo."""
    return Path(os.environ.get("AIOPS_SHARED_DIR", REPO.parent / "shared"))


def local_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a private local stack: free ports, no external servers."""
    values: dict[str, object] = dict(
        data_dir=data_dir, kafka_bootstrap=None, clickhouse_url=None, kafka_port=0,
        clickhouse_http_port=0, clickhouse_tcp_port=0, kafka_heap="512m",
    )
    if os.environ.get("AIOPS_CACHE_DIR"):
        values["cache_dir"] = Path(os.environ["AIOPS_CACHE_DIR"])
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class RunningStack:
    """Addresses of the session's stack."""

    stack: LocalStack

    @property
    def bootstrap(self) -> str:
        return self.stack.kafka_bootstrap()

    @property
    def clickhouse_url(self) -> str:
        return self.stack.clickhouse_url()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """One real Kafka + ClickHouse for the whole test session."""
    local = LocalStack(local_settings(tmp_path_factory.mktemp("stack")))
    local.up(timeout=180)
    try:
        yield RunningStack(local)
    finally:
        local.down()


@pytest.fixture()
def unique() -> str:
    """A short unique suffix for topic, group and database names."""
    return uuid.uuid4().hex[:10]
