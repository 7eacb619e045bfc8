"""``aiops mcp``: the MCP server over stdio, with the API's tools and token scope."""

from __future__ import annotations

import anyio
import typer

from api.deps import principal_for
from api.errors import ApiError
from api.mcp_server import serve_stdio
from api.services import build_services
from streams.kafka.admin import apply as apply_topics
from streams.settings import get_settings
from streams.stack.manager import LocalStack

app = typer.Typer()


@app.callback(invoke_without_command=True)
def run(token: str = typer.Option(
        None, help="API bearer token (default: AIOPS_CLI_API_TOKEN); its role and cluster "
        "scope apply to every tool call.")) -> None:
    """Serve the read-only fleet tools to an MCP client on stdin/stdout."""
    settings = get_settings()
    secret = token or (settings.cli_api_token.get_secret_value()
                       if settings.cli_api_token else None)
    local = LocalStack(settings)
    bootstrap = local.kafka_bootstrap()
    apply_topics(bootstrap)  # the registry topic must exist (idempotent)
    services = build_services(settings, bootstrap, local.clickhouse_url(), relay=False)
    try:
        principal = principal_for(secret, services)
    except ApiError as exc:
        services.pool.close()
        typer.echo(f"error: {exc.message} (pass --token or set AIOPS_CLI_API_TOKEN)", err=True)
        raise typer.Exit(2) from exc
    services.start()
    try:
        anyio.run(serve_stdio, services, principal)
    finally:
        services.stop()
