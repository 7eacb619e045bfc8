"""A private local stack for benchmarks: Kafka (and ClickHouse) on free ports in a temp dir.

Not a benchmark itself (no JSON line).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.kafka import admin  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.stack.manager import LocalStack  # noqa: E402

NO_CLICKHOUSE = "http://127.0.0.1:9/unused"


@contextmanager
def private_stack(prefix: str = "aiops-bench-", *, kafka_heap: str = "512m",
                  clickhouse: bool = True) -> Iterator[tuple[LocalStack, Settings, Path]]:
    """A local Kafka (+ ClickHouse unless ``clickhouse`` is false) on free ports in a temp
    dir, the catalogue topics applied; everything is stopped and removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    settings = Settings(data_dir=tmp, kafka_bootstrap=None,
                        clickhouse_url=None if clickhouse else NO_CLICKHOUSE, kafka_port=0,
                        clickhouse_http_port=0, clickhouse_tcp_port=0, kafka_heap=kafka_heap)
    stack = LocalStack(settings)
    stack.up(timeout=240)
    try:
        admin.apply(stack.kafka_bootstrap())
        yield stack, settings, tmp
    finally:
        stack.down()
        shutil.rmtree(tmp, ignore_errors=True)
