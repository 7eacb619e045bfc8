"""Real Prometheus-ecosystem peers (Debian packages) started on free loopback ports.

Each helper skips the calling test with a clear reason when its binary is
missing (``apt-get install -y prometheus prometheus-node-exporter
prometheus-pushgateway``).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from streams.stack.ports import free_port

BINARIES = {
    "node_exporter": "prometheus-node-exporter",
    "pushgateway": "prometheus-pushgateway",
    "prometheus": "prometheus",
}


def binary(kind: str) -> str:
    path = shutil.which(BINARIES[kind])
    if path is None:
        pytest.skip(f"{BINARIES[kind]} is not installed (apt-get install -y {BINARIES[kind]})")
    return path


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s: {log.read_text()[-2000:]}")


@contextmanager
def peer(kind: str, args: list[str], ready_path: str, workdir: Path) -> Iterator[str]:
    """Run one peer; yields its ``127.0.0.1:port`` address; always stopped afterwards."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    log = workdir / f"{kind}.log"
    flag = "--web.listen-address"
    with open(log, "wb") as out:
        proc = subprocess.Popen([binary(kind), f"{flag}={address}", *args], stdout=out,
                                stderr=subprocess.STDOUT, cwd=workdir)
    try:
        wait_http(f"http://{address}{ready_path}", proc, log)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def node_exporter(workdir: Path) -> Iterator[str]:
    with peer("node_exporter", ["--collector.disable-defaults", "--collector.cpu",
                                "--collector.meminfo", "--collector.loadavg",
                                "--collector.netdev", "--collector.filesystem"],
              "/metrics", workdir) as address:
        yield address


@contextmanager
def pushgateway(workdir: Path) -> Iterator[str]:
    with peer("pushgateway", [], "/-/ready", workdir) as address:
        yield address


@contextmanager
def prometheus(workdir: Path, targets: dict[str, str], honor: bool = True) -> Iterator[str]:
    """A Prometheus scraping ``{job: address}`` every second."""
    jobs = "\n".join(
        f"  - job_name: {job}\n    honor_labels: {str(honor).lower()}\n"
        f"    static_configs:\n      - targets: ['{addr}']" for job, addr in targets.items())
    cfg = workdir / "prometheus.yml"
    cfg.write_text(f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                   f"scrape_configs:\n{jobs}\n")
    data = workdir / "prom-data"
    with peer("prometheus", [f"--config.file={cfg}", f"--storage.tsdb.path={data}"],
              "/-/ready", workdir) as address:
        yield address


def wait_for_series(prom: str, query: str, timeout: float = 30.0) -> None:
    """Wait until Prometheus has at least one series for ``query``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = httpx.get(f"http://{prom}/api/v1/query", params={"query": query}, timeout=2)
        if resp.status_code == 200 and resp.json()["data"]["result"]:
            return
        time.sleep(0.25)
    raise AssertionError(f"Prometheus never returned {query}")
