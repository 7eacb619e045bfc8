"""A running Source follows file_sd: new targets start, changed ones restart, gone ones stop."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from connectors.publish.kafka import KafkaPublisher
from connectors.sources.config import GlobalConfig, JobConfig
from connectors.sources.prometheus import PrometheusSource
from streams.stack.ports import free_port


class _Exposition(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(b"# TYPE x gauge\nx 1\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def endpoints() -> Iterator[list[str]]:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Exposition) for _ in range(2)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    yield [f"127.0.0.1:{s.server_port}" for s in servers]
    for s in servers:
        s.shutdown()
        s.server_close()


def write_sd(path: Path, groups: list[dict], stamp: int) -> None:
    path.write_text(json.dumps(groups))
    os.utime(path, (stamp, stamp))


def test_source_follows_file_sd(endpoints: list[str], tmp_path: Path) -> None:
    sd = tmp_path / "t.json"
    a, b = endpoints
    write_sd(sd, [{"targets": [a], "labels": {"v": "1"}}], 1)
    job = JobConfig(job_name="sd", scrape_interval="200ms",
                    file_sd_configs=[{"files": [str(sd)]}])
    pub = KafkaPublisher(f"127.0.0.1:{free_port()}")  # no broker: batches stay spooled
    src = PrometheusSource(job, GlobalConfig(), "c1", pub)

    async def until(cond, timeout: float = 10.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if cond():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out; outcomes: {src.outcomes}")

    async def run() -> None:
        await src.start()
        try:
            await until(lambda: ("sd", a) in src.outcomes)
            assert src.outcomes[("sd", a)].up
            write_sd(sd, [{"targets": [a], "labels": {"v": "2"}}, {"targets": [b]}], 2)
            await until(lambda: ("sd", b) in src.outcomes and
                        src.outcomes.get(("sd", a)) is not None and
                        src.outcomes[("sd", a)].target.labels["v"] == "2")
            write_sd(sd, [{"targets": [b]}], 3)
            await until(lambda: list(src.outcomes) == [("sd", b)])
        finally:
            await src.stop()

    asyncio.run(run())
    assert pub.spool_depth > 0  # every scrape was kept for the broker
    pub.close(timeout=0)
