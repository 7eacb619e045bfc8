"""``aiops sink``: every signal and result topic into ClickHouse, until SIGTERM/SIGINT."""

from __future__ import annotations

import signal

import typer

from connectors.sinks.tables import FAMILIES
from schemas.topics import TOPICS
from streams.settings import get_settings
from streams.sink.telemetry import SinkTelemetry
from streams.sink.worker import DLQ_TOPIC, SinkWorker
from streams.stack.manager import LocalStack

app = typer.Typer()


def parse_topics(options: list[str] | None) -> dict[str, str]:
    """topic -> schema: catalogue names, or ``name=schema`` for topics outside it.

    Without options: every catalogue topic whose schema has a table family.
    """
    catalogue = {t.name: t.value_schema for t in TOPICS}
    if not options:
        return {name: schema for name, schema in catalogue.items() if schema in FAMILIES}
    wanted = {}
    for option in options:
        name, _, schema = option.partition("=")
        if schema:
            if schema not in FAMILIES:
                raise typer.BadParameter(f"no ClickHouse table family for schema {schema!r}")
            wanted[name] = schema
        elif catalogue.get(name) in FAMILIES:
            wanted[name] = catalogue[name]
        else:
            raise typer.BadParameter(
                f"{name}: not a catalogue topic with a ClickHouse table (use name=schema)")
    return wanted


@app.callback(invoke_without_command=True)
def run(
    topic: list[str] = typer.Option(  # noqa: B008 - typer's idiom
        None, "--topic", "-t",
        help="Only these topics: catalogue names or name=schema (default: the catalogue)."),
    dlq_topic: str = typer.Option(DLQ_TOPIC, help="Where undecodable records go."),
    metrics_port: int = typer.Option(
        None, help="Port for /metrics (default: AIOPS_SINK_METRICS_PORT; 0 disables)."),
) -> None:
    """Consume the catalogue's topics and write ClickHouse history (effectively once)."""
    settings = get_settings()
    local = LocalStack(settings)
    wanted = parse_topics(topic)
    telemetry = SinkTelemetry()
    telemetry.serve(settings.sink_metrics_port if metrics_port is None else metrics_port)
    worker = SinkWorker(
        local.kafka_bootstrap(), local.clickhouse_url(), settings.clickhouse_database, wanted,
        group=settings.sink_group, max_rows=settings.sink_batch_rows,
        max_age_s=settings.sink_batch_max_age_s, telemetry=telemetry, dlq_topic=dlq_topic,
        edges_interval_s=settings.sink_edges_interval_s,
        rollup_interval_s=settings.history_rollup_interval_s,
        rollup_1h_interval_s=settings.history_rollup_1h_interval_s,
        consumer_overrides=(
            {"group.instance.id": settings.sink_instance_id} if settings.sink_instance_id else {}),
        ttl_days={"metrics": settings.history_metrics_ttl_days,
                  "metrics_1m": settings.history_rollup_1m_ttl_days,
                  "metrics_1h": settings.history_rollup_1h_ttl_days})
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    worker.run()
