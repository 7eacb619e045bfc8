"""The ``aiops`` command line (typer): one sub-app per area, imported only when used.

Sub-apps live in ``streams/cli/<area>.py`` as a ``typer.Typer`` named ``app`` and are
listed in :data:`COMMANDS`; ``aiops stack up`` imports the stack module alone, so a
command never pays for the imports of the others (FastAPI, Faust, River ...).
"""

from __future__ import annotations

import importlib

import click
import typer
from typer.core import TyperGroup

from streams.logs_setup import configure_logging
from streams.settings import get_settings

# command -> (module holding `app`, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "stack": ("streams.cli.stack", "Start, stop and inspect the local Kafka + ClickHouse."),
    "topics": ("streams.cli.topics", "Create, describe and generate the catalogue's topics."),
    "db": ("streams.cli.db", "ClickHouse schema migrations."),
    "config": ("streams.cli.config", "Show the settings; regenerate the README table."),
    "simulate": ("streams.cli.simulate", "Simulate a fleet with labelled faults."),
    "sink": ("streams.cli.sink", "Write every topic to ClickHouse history."),
    "scrape": ("streams.cli.scrape", "Scrape Prometheus/DCGM/CNF and publish."),
    "receive": ("streams.cli.receive", "Run the OTLP, Loki, Alertmanager receivers."),
    "detect": ("streams.cli.detect", "Detect anomalies on signal topics."),
    "correlate": ("streams.cli.correlate", "Anomalies and alerts -> incidents."),
    "rca": ("streams.cli.rca", "Incidents -> ranked root causes and an explanation."),
    "llm": ("streams.cli.llm", "LLM personas; explain ranked causes."),
    "notify": ("streams.cli.notify", "Deliver incidents to Alertmanager/webhooks."),
    "api": ("streams.cli.api", "Serve the Query API (REST, SSE, WebSocket)."),
    "token": ("streams.cli.token", "Create, list and revoke API tokens."),
    "up": ("streams.cli.up", "Start the stack and every pipeline component, supervised."),
    "down": ("streams.cli.down", "Stop every component and the local stack."),
    "status": ("streams.cli.status", "Every component: health, consumer lag, throughput."),
    "scorecard": ("streams.cli.scorecard", "Injected faults vs. incidents and root causes."),
    "ask": ("streams.cli.ask", "Ask the fleet a question; streams the answer and tool calls."),
    "mcp": ("streams.cli.mcp", "MCP server over stdio with the read-only fleet tools."),
}


class LazyGroup(TyperGroup):
    """A click group that imports a sub-app the first time it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module_name, help_text = COMMANDS[cmd_name]
            group = typer.main.get_group(importlib.import_module(module_name).app)
            group.name = cmd_name
            group.help = group.help or help_text
            group.short_help = help_text
            self.commands[cmd_name] = group
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    name="aiops",
    cls=LazyGroup,
    help="AIOps NextGen: streaming AIOps for OpenShift/Kubernetes fleets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _root() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)


def main() -> None:
    """Console-script entry point."""
    app()
