"""``aiops correlate``: the Faust app grouping anomalies and alerts into incidents."""

from __future__ import annotations

import typer

from streams.settings import get_settings
from streams.stack.manager import LocalStack

app = typer.Typer()


@app.callback(invoke_without_command=True)
def run(
    metrics_port: int = typer.Option(
        None, help="Port for /metrics (default: AIOPS_CORRELATE_METRICS_PORT; 0 disables)."),
    callgraph: bool = typer.Option(
        True, help="Load call-graph neighbours from ClickHouse service_edges."),
    anomalies_topic: str = typer.Option("aiops.anomalies", help="Anomalies to read."),
    alerts_topic: str = typer.Option("aiops.alerts", help="Alerts to read."),
    incidents_topic: str = typer.Option("aiops.incidents", help="Where incidents go."),
    deadletter_topic: str = typer.Option("aiops.deadletter",
                                         help="Where undecodable records go."),
) -> None:
    """Consume anomalies and alerts; publish incident versions until SIGTERM/SIGINT."""
    # Faust is imported here so the rest of the CLI starts fast.
    from streams.correlate.app import CorrelateTopics, Correlator
    from streams.correlate.telemetry import CorrelateTelemetry

    settings = get_settings()
    local = LocalStack(settings)
    telemetry = CorrelateTelemetry()
    telemetry.serve(settings.correlate_metrics_port if metrics_port is None else metrics_port)
    clickhouse = local.clickhouse_url() if callgraph and settings.correlate_callgraph else None
    topics = CorrelateTopics(anomalies_topic, alerts_topic, incidents_topic, deadletter_topic)
    correlator = Correlator(settings, local.kafka_bootstrap(), clickhouse, telemetry, topics)
    correlator.run(settings.log_level)
