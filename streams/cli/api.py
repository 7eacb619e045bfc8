"""``aiops api``: the Query API (REST + live stream) on uvicorn."""

from __future__ import annotations

import typer
import uvicorn

from api.app import ConfigurationError, create_app
from api.services import build_services
from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import migrate
from streams.kafka.admin import apply as apply_topics
from streams.settings import get_settings
from streams.stack.manager import LocalStack

app = typer.Typer()


@app.callback(invoke_without_command=True)
def run(
    host: str = typer.Option(None, help="Listen address (default: AIOPS_API_HOST)."),
    port: int = typer.Option(None, help="Port (default: AIOPS_API_PORT)."),
    insecure_dev: bool = typer.Option(
        False, "--insecure-dev",
        help="Serve WITHOUT authentication (every caller is admin); logs a warning per request."),
) -> None:
    """Serve /api/v1 over ClickHouse and the registry topic until interrupted."""
    settings = get_settings()
    local = LocalStack(settings)
    bootstrap, url = local.kafka_bootstrap(), local.clickhouse_url()
    apply_topics(bootstrap)
    migrate(connect(url), settings.clickhouse_database)
    services = build_services(settings, bootstrap, url)
    try:
        application = create_app(settings, services, insecure_dev=insecure_dev)
    except ConfigurationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    uvicorn.run(application, host=host or settings.api_host, port=port or settings.api_port,
                log_level=settings.log_level.lower(), access_log=False)
