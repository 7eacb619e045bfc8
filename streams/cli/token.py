"""``aiops token create | list | revoke``: static API tokens (stored hashed in ClickHouse)."""

from __future__ import annotations

import typer
from rich.console import Console

from api.auth.principal import Role
from api.auth.tokens import TokenStore
from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import migrate
from streams.settings import get_settings
from streams.stack.manager import LocalStack

app = typer.Typer(no_args_is_help=True)
console = Console()


def _store() -> TokenStore:
    settings = get_settings()
    url = LocalStack(settings).clickhouse_url()
    migrate(connect(url), settings.clickhouse_database)
    return TokenStore(connect(url, settings.clickhouse_database), settings.clickhouse_database)


@app.command()
def create(
    role: Role = typer.Option(..., "--role", help="viewer, operator or admin."),  # noqa: B008
    clusters: list[str] = typer.Option(  # noqa: B008 - typer's idiom
        None, "--clusters", help="Cluster scope (repeat or comma-separate); default: all."),
    name: str = typer.Option("cli", help="Who or what holds the token."),
) -> None:
    """Create a token; it is printed once (only its SHA-256 is stored)."""
    scope = sorted({c.strip() for item in clusters or [] for c in item.split(",") if c.strip()})
    token, info = _store().create(name, role, scope)
    Console(stderr=True).print(f"token id {info.token_id} role {info.role} "
                               f"clusters {scope or 'ALL'}", highlight=False)
    typer.echo(token)


@app.command("list")
def list_tokens() -> None:
    """List tokens (never their secrets)."""
    for t in _store().list():
        state = "revoked" if t.revoked else "active"
        console.print(f"{t.token_id} {t.name} {t.role} {t.clusters or 'ALL'} {state}")


@app.command()
def revoke(token_id: str) -> None:
    """Revoke a token by id."""
    if not _store().revoke(token_id):
        raise typer.BadParameter(f"no token {token_id}")
    console.print(f"revoked {token_id}")
