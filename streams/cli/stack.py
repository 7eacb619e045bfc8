"""``aiops stack up | down | status``."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import typer
from rich.console import Console
from rich.table import Table

from streams.settings import get_settings
from streams.stack import StackError
from streams.stack.manager import LocalStack

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.command()
def up(timeout: float = typer.Option(120.0, help="Seconds to wait for readiness.")) -> None:
    """Start the local Kafka (KRaft) and ClickHouse servers and wait until ready."""
    stack = LocalStack(get_settings())
    started = time.monotonic()
    try:
        with console.status("starting Kafka and ClickHouse ..."):
            stack.up(timeout=timeout)
    except StackError as exc:
        console.print(f"[red]stack failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"stack up in {time.monotonic() - started:.1f}s")
    _print_table(stack)


@app.command()
def down() -> None:
    """Stop the local servers cleanly (data is kept)."""
    LocalStack(get_settings()).down()
    console.print("stack stopped")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Show each component with address, pid and health."""
    stack = LocalStack(get_settings())
    if as_json:
        rows = stack.status()
        state = stack.load_state()
        settings = get_settings()
        typer.echo(json.dumps({
            "kafka_bootstrap": settings.kafka_bootstrap or state.kafka_bootstrap,
            "clickhouse_http_url": settings.clickhouse_url or state.clickhouse_http_url,
            "clickhouse_tcp_address": state.clickhouse_tcp_address,
            "components": [asdict(r) for r in rows],
            "healthy": all(r.healthy for r in rows),
        }, indent=2))
        raise typer.Exit(0 if all(r.healthy for r in rows) else 1)
    healthy = _print_table(stack)
    raise typer.Exit(0 if healthy else 1)


def _print_table(stack: LocalStack) -> bool:
    rows = stack.status()
    table = Table(title="AIOps NextGen stack")
    for col in ("component", "address", "pid", "health", "managed", "detail"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.name, r.address, str(r.pid or "-"),
                      "[green]healthy[/green]" if r.healthy else "[red]down[/red]",
                      "local" if r.managed else "external", r.detail)
    console.print(table)
    return all(r.healthy for r in rows)
