"""``aiops db migrate | status``."""

from __future__ import annotations

import typer
from rich.console import Console

from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import applied, discover, migrate
from streams.settings import get_settings
from streams.stack.manager import LocalStack

app = typer.Typer(no_args_is_help=True)
console = Console()


def _client():
    settings = get_settings()
    return connect(LocalStack(settings).clickhouse_url()), settings.clickhouse_database


@app.command("migrate")
def migrate_cmd() -> None:
    """Apply pending ClickHouse migrations from deploy/clickhouse (idempotent)."""
    client, database = _client()
    ran = migrate(client, database)
    if not ran:
        console.print(f"database {database} is up to date")
    for m in ran:
        console.print(f"applied {m.version:04d} {m.name}")


@app.command()
def status() -> None:
    """List migrations and whether each has been applied."""
    client, database = _client()
    done = applied(client, database)
    for m in discover():
        mark = "[green]applied" if m.version in done else "[yellow]pending"
        console.print(f"{m.version:04d} {m.name}: {mark}")
