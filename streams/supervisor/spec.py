"""What ``aiops up`` runs: one :class:`ComponentSpec` per pipeline component.

A component runs only when its command is registered in the ``aiops`` CLI (areas still being
built are skipped with a reason); each gets its /metrics (or /health) port through its own
``AIOPS_*`` setting, so ``aiops status`` knows where to probe it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field

from streams.settings import Settings
from streams.stack.ports import free_port


@dataclass(frozen=True)
class ComponentSpec:
    """How to start and watch one component."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    health_url: str | None = None
    group: str | None = None  # consumer group whose lag ``aiops status`` reports
    topics: tuple[str, ...] = ()  # topics that group consumes
    rate_metric: str | None = None  # counter whose rate is its throughput
    rate_unit: str = "rec/s"


@dataclass(frozen=True)
class Skipped:
    """A component not started, and why."""

    name: str
    reason: str


ORDER = ("sink", "detect", "correlate", "rca", "notify", "receive", "scrape", "api")


def registered_commands() -> set[str]:
    """Names of the sub-commands the ``aiops`` CLI has right now (whose module exists)."""
    from streams.cli import COMMANDS

    return {name for name, (module, _) in COMMANDS.items() if importlib.util.find_spec(module)}


def sink_topics() -> list[str]:
    """Catalogue topics the ClickHouse sink has a table family for."""
    from connectors.sinks.tables import FAMILIES
    from schemas.topics import TOPICS

    return [t.name for t in TOPICS if t.value_schema in FAMILIES]


def _cli(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "streams.cli", *args)


def _port(settings_port: int, pick_free: bool) -> int:
    return free_port() if pick_free or settings_port == 0 else settings_port


def build_specs(settings: Settings, *, free_ports: bool = False,
                only: set[str] | None = None,
                commands: set[str] | None = None) -> tuple[list[ComponentSpec], list[Skipped]]:
    """The components to run (in start order) and those skipped with the reason."""
    commands = registered_commands() if commands is None else commands
    specs: list[ComponentSpec] = []
    skipped: list[Skipped] = []

    def metrics(name: str, setting: str, port_value: int) -> tuple[dict[str, str], str | None]:
        port = _port(port_value, free_ports)
        return {setting: str(port)}, f"http://127.0.0.1:{port}/metrics"

    for name in ORDER:
        if only is not None and name not in only:
            continue
        if name not in commands:
            skipped.append(Skipped(name, f"`aiops {name}` is not registered in this build"))
            continue
        if name == "sink":
            env, url = metrics(name, "AIOPS_SINK_METRICS_PORT", settings.sink_metrics_port)
            args: list[str] = ["sink"]
            for t in sink_topics():
                args += ["--topic", t]
            specs.append(ComponentSpec(name, _cli(*args), env, url, settings.sink_group,
                                       tuple(sink_topics()), "aiops_sink_rows_inserted_total",
                                       "rows/s"))
        elif name == "detect":
            env, url = metrics(name, "AIOPS_DETECT_METRICS_PORT", settings.detect_metrics_port)
            specs.append(ComponentSpec(name, _cli("detect"), env, url, settings.detect_group,
                                       ("aiops.metrics", "aiops.gpu"),
                                       "aiops_detect_samples_total", "samples/s"))
        elif name == "correlate":
            env, url = metrics(name, "AIOPS_CORRELATE_METRICS_PORT",
                               settings.correlate_metrics_port)
            specs.append(ComponentSpec(name, _cli("correlate"), env, url,
                                       settings.correlate_app_id,
                                       ("aiops.anomalies", "aiops.alerts"),
                                       "aiops_correlate_members_total", "members/s"))
        elif name == "rca":
            env, url = metrics(name, "AIOPS_RCA_METRICS_PORT", settings.rca_metrics_port)
            argv = _cli("rca", "run") if _has_run("rca") else _cli("rca")
            specs.append(ComponentSpec(name, argv, env, url, settings.rca_group,
                                       ("aiops.incidents",)))
        elif name == "notify":
            env, url = metrics(name, "AIOPS_NOTIFY_METRICS_PORT", settings.notify_metrics_port)
            argv = _cli("notify", "run") if _has_run("notify") else _cli("notify")
            specs.append(ComponentSpec(name, argv, env, url, settings.notify_group,
                                       ("aiops.incidents", "aiops.rca", "aiops.anomalies")))
        elif name == "receive":
            port = _port(settings.receiver_port, free_ports)
            specs.append(ComponentSpec(name, _cli("receive", "--port", str(port)), {},
                                       f"http://127.0.0.1:{port}/health"))
        elif name == "scrape":
            if settings.scrape_config is None:
                skipped.append(Skipped(name, "no scrape targets (AIOPS_SCRAPE_CONFIG unset)"))
                continue
            env, url = metrics(name, "AIOPS_SCRAPE_METRICS_PORT", settings.scrape_metrics_port)
            argv = _cli("scrape", "run") if _has_run("scrape") else _cli("scrape")
            specs.append(ComponentSpec(name, argv, env, url))
        elif name == "api":
            port = _port(settings.api_port, free_ports)
            specs.append(ComponentSpec(name, _cli("api"), {"AIOPS_API_PORT": str(port)},
                                       f"http://127.0.0.1:{port}/health"))
    return specs, skipped


def _has_run(command: str) -> bool:
    """True when ``aiops <command>`` has a ``run`` sub-command (not a bare callback)."""
    from streams.cli import COMMANDS

    sub = importlib.import_module(COMMANDS[command][0]).app
    return any((c.name or (c.callback.__name__ if c.callback else "")) == "run"
               for c in sub.registered_commands)
