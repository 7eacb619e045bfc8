"""``aiops rca``: incidents -> ranked root causes and an explanation, until SIGTERM/SIGINT."""

from __future__ import annotations

import signal

import typer

from streams.settings import get_settings
from streams.stack.manager import LocalStack

app = typer.Typer()


@app.callback(invoke_without_command=True)
def run(
    metrics_port: int = typer.Option(
        None, help="Port for /metrics (default: AIOPS_RCA_METRICS_PORT; 0 disables)."),
    incidents_topic: str = typer.Option("aiops.incidents", help="Incident versions to read."),
    rca_topic: str = typer.Option("aiops.rca", help="Where reports go."),
    deadletter_topic: str = typer.Option("aiops.deadletter", help="Where failures go."),
) -> None:
    """Consume incident versions; publish one RcaReport per analysed version."""
    from streams.rca_service.telemetry import RcaTelemetry
    from streams.rca_service.worker import RcaTopics, RcaWorker

    settings = get_settings()
    local = LocalStack(settings)
    telemetry = RcaTelemetry()
    telemetry.serve(settings.rca_metrics_port if metrics_port is None else metrics_port)
    worker = RcaWorker(settings, local.kafka_bootstrap(), local.clickhouse_url(),
                       topics=RcaTopics(incidents_topic, rca_topic, deadletter_topic),
                       telemetry=telemetry)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    worker.run()
