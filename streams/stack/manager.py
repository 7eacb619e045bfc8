"""The local stack as one unit: ``aiops stack up | down | status``.

State lives in ``<data_dir>/stack.json`` so any later process (the CLI, the
workers, the tests) finds the running broker and server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streams.settings import Settings
from streams.stack import StackStartError, clickhouse, kafka
from streams.stack.ports import free_port, port_open


@dataclass
class ComponentStatus:
    """One row of ``aiops stack status``."""

    name: str
    address: str
    pid: int | None
    healthy: bool
    managed: bool
    detail: str = ""


@dataclass
class StackState:
    """What ``stack.json`` records about the running local stack."""

    kafka_bootstrap: str | None = None
    kafka_pid: int | None = None
    kafka_version: str | None = None
    clickhouse_http_url: str | None = None
    clickhouse_tcp_address: str | None = None
    clickhouse_pid: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _alive(pid: int | None, marker: str) -> bool:
    """True when pid runs and its command line contains marker."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return marker.encode() in cmdline


def _stop(pid: int | None, marker: str, timeout: float = 30.0) -> None:
    """SIGTERM, wait, then SIGKILL a component's process (group)."""
    if not _alive(pid, marker):
        return
    assert pid is not None
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid, marker):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


KAFKA_MARKER = "kafka.Kafka"
CLICKHOUSE_MARKER = "streams.stack.clickhouse_server"


class LocalStack:
    """Starts, stops and reports the embedded Kafka + ClickHouse.

    Components configured as external (``AIOPS_KAFKA_BOOTSTRAP``,
    ``AIOPS_CLICKHOUSE_URL``) are never started, only health-checked.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = Path(settings.data_dir)
        self.state_path = self.root / "stack.json"

    # -- state ---------------------------------------------------------------
    def load_state(self) -> StackState:
        if self.state_path.exists():
            return StackState(**json.loads(self.state_path.read_text()))
        return StackState()

    def save_state(self, state: StackState) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(self.state_path)

    @property
    def kafka_layout(self) -> kafka.KafkaLayout:
        return kafka.KafkaLayout(self.root / "kafka")

    @property
    def clickhouse_home(self) -> Path:
        return self.root / "clickhouse"

    # -- addresses -----------------------------------------------------------
    def kafka_bootstrap(self) -> str:
        """The broker every client should use."""
        if self.settings.kafka_bootstrap:
            return self.settings.kafka_bootstrap
        state = self.load_state()
        if not state.kafka_bootstrap:
            raise StackStartError("local Kafka is not running: run `aiops stack up`")
        return state.kafka_bootstrap

    def clickhouse_url(self) -> str:
        """The ClickHouse HTTP URL every client should use."""
        if self.settings.clickhouse_url:
            return self.settings.clickhouse_url
        state = self.load_state()
        if not state.clickhouse_http_url:
            raise StackStartError("local ClickHouse is not running: run `aiops stack up`")
        return state.clickhouse_http_url

    # -- lifecycle -----------------------------------------------------------
    def up(self, timeout: float = 90.0) -> StackState:
        """Start whatever local component is not running yet; wait until ready."""
        state = self.load_state()
        ch_proc = None
        if self.settings.uses_local_clickhouse and not _alive(
            state.clickhouse_pid, CLICKHOUSE_MARKER
        ):
            ch_proc = clickhouse.spawn_server(
                self.clickhouse_home,
                self.settings.clickhouse_http_port,
                self.settings.clickhouse_tcp_port,
            )
        try:
            if self.settings.uses_local_kafka and not _alive(state.kafka_pid, KAFKA_MARKER):
                state = self._start_kafka(state, timeout)
            if ch_proc is not None:
                endpoint = clickhouse.wait_ready(self.clickhouse_home, ch_proc, timeout)
        except BaseException:
            # Never leave a half-started stack behind: stop what this call started.
            if ch_proc is not None:
                _stop(ch_proc.pid, CLICKHOUSE_MARKER, timeout=3.0)
                _reap(ch_proc.pid)
            raise
        if ch_proc is not None:
            state.clickhouse_pid = endpoint.pid
            state.clickhouse_http_url = endpoint.http_url
            state.clickhouse_tcp_address = endpoint.tcp_address
        self.save_state(state)
        return state

    def _start_kafka(self, state: StackState, timeout: float) -> StackState:
        version = self.settings.kafka_version
        libs = kafka.ensure_jars(version, Path(self.settings.cache_dir))
        layout = self.kafka_layout
        # With port 0 we pick free ports ourselves (Kafka must advertise the real one);
        # another process may grab them first, so retry with fresh ports.
        attempts = 1 if self.settings.kafka_port else 3
        for attempt in range(attempts):
            port = self.settings.kafka_port or free_port()
            if port_open("127.0.0.1", port):
                raise StackStartError(f"port {port} is taken; set AIOPS_KAFKA_PORT (0 = any)")
            kafka.write_properties(layout, port, free_port())
            kafka.format_storage(libs, layout, self.settings.kafka_heap)
            proc = kafka.spawn_broker(libs, layout, self.settings.kafka_heap)
            bootstrap = f"127.0.0.1:{port}"
            try:
                wait_kafka_ready(bootstrap, proc, layout, timeout)
                break
            except StackStartError:
                _stop(proc.pid, KAFKA_MARKER, timeout=10)
                _reap(proc.pid)
                if attempt == attempts - 1:
                    raise
        state.kafka_bootstrap = bootstrap
        state.kafka_pid = proc.pid
        state.kafka_version = version
        return state

    def down(self) -> None:
        """Stop the local components cleanly (SIGTERM, then SIGKILL)."""
        state = self.load_state()
        _stop(state.kafka_pid, KAFKA_MARKER)
        # chdb ignores SIGTERM while serving; acknowledged inserts are on disk, so a
        # short grace then SIGKILL is safe (the restart test proves it).
        _stop(state.clickhouse_pid, CLICKHOUSE_MARKER, timeout=3.0)
        for pid in (state.kafka_pid, state.clickhouse_pid):
            if pid:
                _reap(pid)
        self.save_state(StackState())

    def status(self) -> list[ComponentStatus]:
        """Health of each component, local or external."""
        state = self.load_state()
        rows: list[ComponentStatus] = []
        if self.settings.kafka_bootstrap:
            rows.append(ComponentStatus("kafka", self.settings.kafka_bootstrap, None,
                                        kafka_healthy(self.settings.kafka_bootstrap), False,
                                        "external"))
        else:
            alive = _alive(state.kafka_pid, KAFKA_MARKER)
            rows.append(ComponentStatus(
                "kafka", state.kafka_bootstrap or "-", state.kafka_pid if alive else None,
                alive and bool(state.kafka_bootstrap) and kafka_healthy(state.kafka_bootstrap),
                True, f"KRaft, Apache Kafka {state.kafka_version}" if alive else "stopped"))
        if self.settings.clickhouse_url:
            rows.append(ComponentStatus("clickhouse", self.settings.clickhouse_url, None,
                                        clickhouse.ping(self.settings.clickhouse_url), False,
                                        "external"))
        else:
            alive = _alive(state.clickhouse_pid, CLICKHOUSE_MARKER)
            url = state.clickhouse_http_url
            rows.append(ComponentStatus(
                "clickhouse", url or "-", state.clickhouse_pid if alive else None,
                alive and bool(url) and clickhouse.ping(url or ""), True,
                f"native tcp {state.clickhouse_tcp_address}" if alive else "stopped"))
        return rows

    def kill_clickhouse(self) -> None:
        """SIGKILL the local ClickHouse (for crash tests)."""
        state = self.load_state()
        if _alive(state.clickhouse_pid, CLICKHOUSE_MARKER) and state.clickhouse_pid:
            os.killpg(state.clickhouse_pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _alive(state.clickhouse_pid, CLICKHOUSE_MARKER) and time.monotonic() < deadline:
                _reap(state.clickhouse_pid)
                time.sleep(0.05)
        state.clickhouse_pid = None
        self.save_state(state)


def kafka_healthy(bootstrap: str, timeout: float = 3.0) -> bool:
    """True when a metadata request to the broker succeeds."""
    from confluent_kafka.admin import AdminClient

    try:
        admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 2000,
                             "log_level": 0})
        admin.list_topics(timeout=timeout)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False


def wait_kafka_ready(bootstrap: str, proc: Any, layout: kafka.KafkaLayout,
                     timeout: float) -> None:
    """Wait until the broker answers a metadata request."""
    host, port = bootstrap.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = layout.stdout_log.read_text(errors="replace")[-3000:]
            raise StackStartError(f"Kafka exited with {proc.returncode}: {tail}")
        if port_open(host, int(port)) and kafka_healthy(bootstrap):
            return
        time.sleep(0.3)
    raise StackStartError(f"Kafka not ready after {timeout:.0f}s (logs in {layout.home})")
