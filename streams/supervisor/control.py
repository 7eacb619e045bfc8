"""``aiops up | down | status`` as functions (the CLI and the demo both call them)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from streams.settings import Settings
from streams.stack.manager import LocalStack
from streams.supervisor.health import probe
from streams.supervisor.spec import ComponentSpec, build_specs
from streams.supervisor.state import StateFiles, SupervisorState

MARKER = "streams.supervisor"


class UpError(RuntimeError):
    """``aiops up`` could not bring the pipeline up."""


def _alive(pid: int | None, marker: str = MARKER) -> bool:
    if not pid:
        return False
    try:
        return marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def running(files: StateFiles) -> SupervisorState | None:
    """The live supervisor's state, or None when none runs."""
    state = files.load()
    return state if _alive(state.pid) else None


def prepare_stack(settings: Settings, timeout: float = 120.0) -> tuple[str, str]:
    """Start the local stack where configured local; apply topics and migrations."""
    from connectors.clickhouse.client import connect
    from connectors.clickhouse.migrations import migrate
    from streams.kafka import admin

    stack = LocalStack(settings)
    stack.up(timeout=timeout)
    bootstrap, url = stack.kafka_bootstrap(), stack.clickhouse_url()
    admin.apply(bootstrap)
    migrate(connect(url), settings.clickhouse_database)
    return bootstrap, url


def child_env(settings: Settings) -> dict[str, str]:
    """The settings every child must share with this process (they read AIOPS_* only)."""
    env = {"AIOPS_DATA_DIR": str(settings.data_dir),
           "AIOPS_CLICKHOUSE_DATABASE": settings.clickhouse_database,
           "AIOPS_CACHE_DIR": str(settings.cache_dir)}
    if settings.kafka_bootstrap:
        env["AIOPS_KAFKA_BOOTSTRAP"] = settings.kafka_bootstrap
    if settings.clickhouse_url:
        env["AIOPS_CLICKHOUSE_URL"] = settings.clickhouse_url
    return env


def ensure_api_token(settings: Settings, url: str, name: str = "aiops-up",
                     force: bool = False) -> str | None:
    """An admin token when the API would otherwise refuse to start (``force``: always)."""
    if settings.api_tokenreview_url and not force:
        return None
    from api.auth.principal import Role
    from api.auth.tokens import TokenStore
    from connectors.clickhouse.client import connect

    store = TokenStore(connect(url, settings.clickhouse_database), settings.clickhouse_database)
    if store.count_active() > 0 and not force:
        return None
    token, _ = store.create(name, Role("admin"), [])
    return token


@dataclass
class UpResult:
    """What ``up`` started, and an API token when it had to create the first one."""

    state: SupervisorState
    api_token: str | None = None
    started: bool = True  # False: a supervisor was already running and was left as it is


def up(settings: Settings, *, free_ports: bool = False, only: set[str] | None = None,
       timeout: float = 120.0, extra_env: dict[str, str] | None = None) -> UpResult:
    """Bring the stack and every registered component up under a detached supervisor."""
    files = StateFiles(settings.data_dir)
    current = running(files)
    if current is not None:
        return UpResult(current, started=False)
    bootstrap, url = prepare_stack(settings, timeout)
    specs, skipped = build_specs(settings, free_ports=free_ports, only=only)
    token = ensure_api_token(settings, url) if any(s.name == "api" for s in specs) else None
    if extra_env:
        specs = [ComponentSpec(**{**asdict(s), "env": {**extra_env, **s.env}}) for s in specs]
    files.root.mkdir(parents=True, exist_ok=True)
    files.specs.write_text(json.dumps({
        "bootstrap": bootstrap, "skipped": {s.name: s.reason for s in skipped},
        "specs": [asdict(s) for s in specs]}, indent=2))
    files.state.unlink(missing_ok=True)
    files.telemetry.unlink(missing_ok=True)
    files.logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **child_env(settings)}
    with files.log_of("supervisor").open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", MARKER, "--data-dir", str(settings.data_dir)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = files.log_of("supervisor").read_text(errors="replace")[-2000:]
            raise UpError(f"supervisor exited with {proc.returncode}: {tail}")
        state = files.load()
        if state.pid == proc.pid and len(state.components) > len(specs):
            return UpResult(state, token)
        time.sleep(0.1)
    raise UpError("supervisor did not start its components within 30s")


def wait_healthy(settings: Settings, timeout: float = 60.0) -> list[str]:
    """Wait until every running component answers its endpoint; returns those that do not."""
    files = StateFiles(settings.data_dir)
    deadline = time.monotonic() + timeout
    pending: list[str] = []
    while time.monotonic() < deadline:
        state = files.load()
        pending = [c.name for c in state.components.values()
                   if not (probe(c.health_url, 1.0)[0] if c.health_url
                           else _alive(c.pid, "streams."))]
        if not pending:
            return []
        time.sleep(0.5)
    return pending


def down(settings: Settings, *, stack: bool = True, timeout: float = 60.0) -> list[str]:
    """Stop the supervisor (which stops its components), then the local stack if asked."""
    files = StateFiles(settings.data_dir)
    state = files.load()
    stopped: list[str] = []
    if _alive(state.pid):
        assert state.pid is not None
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(state.pid):
            os.kill(state.pid, signal.SIGKILL)
        stopped.append("supervisor")
    # Whatever a killed supervisor left behind: its components' process groups.
    for comp in files.load().components.values():
        if comp.pid and _alive(comp.pid, "streams."):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(comp.pid, signal.SIGKILL)
        stopped.append(comp.name)
    if stack:
        LocalStack(settings).down()
        stopped.append("stack")
    return stopped


@dataclass
class ComponentRow:
    """One line of ``aiops status``."""

    name: str
    status: str
    pid: int | None
    healthy: bool
    restarts: int = 0
    lag: int | None = None
    lag_s: float | None = None
    rate: float | None = None
    unit: str = ""
    detail: str = ""


def status(settings: Settings, *, fresh_s: float = 15.0) -> list[ComponentRow]:
    """Stack rows, then each component with health, lag and throughput.

    Health is probed now; lag and throughput come from the telemetry sampler's latest row
    (taken every few seconds), when it is at most ``fresh_s`` old.
    """
    files = StateFiles(settings.data_dir)
    rows = [ComponentRow(s.name, "running" if s.pid else "stopped", s.pid, s.healthy,
                         detail=s.address) for s in LocalStack(settings).status()]
    state = files.load()
    live = _alive(state.pid)
    last = files.read_telemetry()[-1:] if live else []
    latest: dict[str, Any] = (last[0]["components"]
                              if last and time.time() - last[0]["ts"] <= fresh_s else {})
    for c in state.components.values():
        alive = live and _alive(c.pid, "streams.")
        healthy = alive and (probe(c.health_url, 1.5)[0] if c.health_url else True)
        seen = latest.get(c.name, {})
        rows.append(ComponentRow(
            c.name, c.status if live else "stopped", c.pid if alive else None, healthy,
            c.restarts, seen.get("lag"), seen.get("lag_s"), seen.get("rate"),
            c.rate_unit if (c.group or c.rate_metric) else "", c.log))
    for name, reason in state.skipped.items():
        rows.append(ComponentRow(name, "skipped", None, False, detail=reason))
    return rows


def wait_drained(settings: Settings, timeout: float = 120.0, settle: int = 3) -> dict[str, int]:
    """Wait until every consumer group is caught up in ``settle`` telemetry samples in a row.

    Returns the components still behind (name -> records) when ``timeout`` ran out.
    """
    files = StateFiles(settings.data_dir)
    deadline = time.monotonic() + timeout
    since = time.time()
    behind: dict[str, int] = {"(no telemetry yet)": 0}
    while time.monotonic() < deadline:
        rows = [r for r in files.read_telemetry() if r["ts"] > since]
        tail = rows[-settle:]
        if len(tail) == settle:
            behind = {name: int(c.get("lag") or 0) for name, c in tail[-1]["components"].items()
                      if c.get("lag")}
            if all(not any(c.get("lag") for c in r["components"].values())
                   and all("lag_error" not in c for c in r["components"].values())
                   for r in tail):
                return {}
        time.sleep(1.0)
    return behind
