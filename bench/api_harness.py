"""Shared set-up for the API benchmarks: the API migrations and a served API.

Not a benchmark itself (no JSON line); ``api_latency`` and ``stream_fanout`` use it.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.clickhouse.client import connect  # noqa: E402
from connectors.clickhouse.migrations import MIGRATIONS_DIR, migrate  # noqa: E402


def migrate_api(url: str, database: str, tmp: Path) -> None:
    """Apply the migrations the API reads (0001..0014; 0041: rollup builder progress)."""
    mig = tmp / "migrations"
    mig.mkdir(exist_ok=True)
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:4]) <= 14 or int(path.name[:4]) == 41:
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
