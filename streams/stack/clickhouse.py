"""Start, find and health-check the local ClickHouse server process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from streams.stack import StackStartError


@dataclass(frozen=True)
class ClickHouseEndpoint:
    """Where a running local ClickHouse server answers."""

    pid: int
    host: str
    http_port: int
    tcp_port: int

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def tcp_address(self) -> str:
        return f"{self.host}:{self.tcp_port}"


def read_endpoint(home: Path) -> ClickHouseEndpoint | None:
    """The endpoint the server process published, if any."""
    path = home / "endpoint.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return ClickHouseEndpoint(data["pid"], data["host"], data["http_port"], data["tcp_port"])


def spawn_server(home: Path, http_port: int, tcp_port: int) -> subprocess.Popen[bytes]:
    """Start ``python -m streams.stack.clickhouse_server`` detached."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "endpoint.json").unlink(missing_ok=True)
    out = open(home / "server.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.stack.clickhouse_server", "--home", str(home),
             "--http-port", str(http_port), "--tcp-port", str(tcp_port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=Path(__file__).resolve().parents[2],
        )
    finally:
        out.close()


def ping(url: str, timeout: float = 2.0) -> bool:
    """True when the server answers a query through clickhouse-connect."""
    import clickhouse_connect

    try:
        client = clickhouse_connect.get_client(
            dsn=url, connect_timeout=timeout, send_receive_timeout=timeout
        )
        try:
            return client.command("SELECT 1") == 1
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False


def wait_ready(home: Path, proc: subprocess.Popen[bytes], timeout: float) -> ClickHouseEndpoint:
    """Wait for endpoint.json and a successful query."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (home / "server.log").read_text(errors="replace")[-2000:]
            raise StackStartError(f"ClickHouse exited with {proc.returncode}: {log}")
        endpoint = read_endpoint(home)
        if endpoint is not None and ping(endpoint.http_url):
            return endpoint
        time.sleep(0.2)
    raise StackStartError(f"ClickHouse not ready after {timeout:.0f}s (log: {home}/server.log)")
