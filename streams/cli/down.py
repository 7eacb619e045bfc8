"""``aiops down``: stop every supervised component, then the local stack."""

from __future__ import annotations

import typer
from rich.console import Console

from streams.settings import get_settings
from streams.supervisor import control

app = typer.Typer()


@app.callback(invoke_without_command=True)
def down(
    keep_stack: bool = typer.Option(False, help="Leave the local Kafka and ClickHouse running."),
) -> None:
    """Stop every component (SIGTERM, then SIGKILL) and the local stack."""
    stopped = control.down(get_settings(), stack=not keep_stack)
    Console().print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
