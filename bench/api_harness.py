"""Shared set-up for the API benchmarks: a private stack, the API migrations, a served API.

Not a benchmark itself (no JSON line); ``api_latency`` and ``stream_fanout`` use it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.clickhouse.client import connect  # noqa: E402
from connectors.clickhouse.migrations import MIGRATIONS_DIR, migrate  # noqa: E402
from streams.kafka import admin  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.stack.manager import LocalStack  # noqa: E402


@contextmanager
def private_stack(prefix: str = "aiops-bench-api-") -> Iterator[tuple[LocalStack, Settings, Path]]:
    """A local Kafka + ClickHouse on free ports in a temp dir, catalogue topics applied."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    settings = Settings(data_dir=tmp, kafka_bootstrap=None, clickhouse_url=None, kafka_port=0,
                        clickhouse_http_port=0, clickhouse_tcp_port=0, kafka_heap="512m")
    stack = LocalStack(settings)
    stack.up(timeout=180)
    try:
        admin.apply(stack.kafka_bootstrap())
        yield stack, settings, tmp
    finally:
        stack.down()
        shutil.rmtree(tmp, ignore_errors=True)


def migrate_api(url: str, database: str, tmp: Path) -> None:
    """Apply the migrations the API reads (0001..0014)."""
    mig = tmp / "migrations"
    mig.mkdir(exist_ok=True)
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:4]) <= 14:
            shutil.copy(path, mig / path.name)
    migrate(connect(url), database, mig)


@contextmanager
def serve(app: object) -> Iterator[str]:
    """``app`` on uvicorn (free port) in a thread; yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="on", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
