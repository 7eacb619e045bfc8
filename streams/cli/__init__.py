"""The ``aiops`` command line (typer): one sub-app per area."""

from __future__ import annotations

import typer

from streams.cli import config, db, simulate, stack, topics
from streams.logs_setup import configure_logging
from streams.settings import get_settings

app = typer.Typer(
    name="aiops",
    help="AIOps NextGen: streaming AIOps for OpenShift/Kubernetes fleets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.add_typer(stack.app, name="stack", help="Start, stop and inspect the local Kafka + ClickHouse.")
app.add_typer(
    topics.app, name="topics", help="Create, describe and generate the catalogue's topics."
)
app.add_typer(db.app, name="db", help="ClickHouse schema migrations.")
app.add_typer(simulate.app, name="simulate", help="Simulate a fleet with labelled faults.")
app.add_typer(config.app, name="config", help="Show the settings; regenerate the README table.")


@app.callback()
def _root() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)


def main() -> None:
    """Console-script entry point."""
    app()
