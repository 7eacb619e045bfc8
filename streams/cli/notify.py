"""``aiops notify``: deliver incidents, RCA reports and anomalies to Alertmanager and webhooks."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import typer

from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import migrate
from connectors.notify.delivery import RetryPolicy
from connectors.notify.delivery_log import list_attempts
from connectors.notify.routing import RoutingError, parse_routes
from connectors.notify.routing_store import read_routes
from streams.notify.telemetry import NotifyTelemetry
from streams.notify.worker import NotifyConfig, NotifyWorker
from streams.settings import Settings, get_settings
from streams.stack.manager import LocalStack

app = typer.Typer(no_args_is_help=True)


def worker_config(settings: Settings, routes: Path | None = None) -> NotifyConfig:
    """The worker's knobs from the settings."""
    return NotifyConfig(
        group=settings.notify_group, routes_path=routes or settings.notify_routes,
        api_base_url=settings.notify_api_base_url,
        anomaly_min_severity=settings.notify_anomaly_min_severity.upper(),
        retry=RetryPolicy(settings.notify_max_attempts, settings.notify_backoff_s,
                          settings.notify_max_backoff_s, settings.notify_backoff_jitter),
        breaker_failures=settings.notify_breaker_failures,
        breaker_reset_s=settings.notify_breaker_reset_s,
        am_refresh_s=settings.notify_am_refresh_s,
        routes_reload_s=settings.notify_routes_reload_s, worker_id=settings.notify_worker_id)


@app.command()
def run(
    routes: Path = typer.Option(  # noqa: B008 - typer's idiom
        None, help="Routing YAML (default: AIOPS_NOTIFY_ROUTES)."),
    metrics_port: int = typer.Option(
        None, help="Port for /metrics (default: AIOPS_NOTIFY_METRICS_PORT; 0 disables)."),
) -> None:
    """Consume aiops.incidents, aiops.rca and aiops.anomalies; route and deliver."""
    settings = get_settings()
    local = LocalStack(settings)
    client = connect(local.clickhouse_url())
    migrate(client, settings.clickhouse_database)
    telemetry = NotifyTelemetry()
    telemetry.serve(settings.notify_metrics_port if metrics_port is None else metrics_port)
    worker = NotifyWorker(local.kafka_bootstrap(), local.clickhouse_url(),
                          settings.clickhouse_database,
                          worker_config(settings, routes), telemetry)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    worker.run()


@app.command("check-routes")
def check_routes(
    path: Path = typer.Argument(..., exists=True, dir_okay=False),  # noqa: B008
) -> None:
    """Validate a routing YAML file (exit 1 with the reason when invalid)."""
    try:
        cfg = parse_routes(path.read_text())
    except RoutingError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"ok: {len(cfg.endpoints)} endpoints, {len(cfg.routes)} routes")


@app.command()
def routes(
    show_secrets: bool = typer.Option(False, help="Print inline secrets, header values and "
                                      "URL credentials instead of <redacted>."),
) -> None:
    """Print the effective routing document and where it comes from (secrets redacted)."""
    from api.queries.routing import dump, load, redacted

    settings = get_settings()
    client = connect(LocalStack(settings).clickhouse_url())
    doc = read_routes(client, settings.clickhouse_database, settings.notify_routes)
    text = doc.text if show_secrets else dump(redacted(load(doc.text)))
    typer.echo(f"# source: {doc.source}\n{text}")


@app.command()
def attempts(
    endpoint: str = typer.Option(None, help="Only this endpoint."),
    limit: int = typer.Option(20, help="Rows to show."),
) -> None:
    """Print the latest delivery attempts (JSON lines)."""
    settings = get_settings()
    client = connect(LocalStack(settings).clickhouse_url())
    for row in list_attempts(client, settings.clickhouse_database, endpoint=endpoint,
                             limit=limit):
        typer.echo(json.dumps(row, default=str))
