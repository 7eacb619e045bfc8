"""``aiops receive``: every push receiver (OTLP/HTTP, Loki, Alertmanager) on one port,
plus the Loki pull mode and the OTLP-on-Kafka consumer when configured."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
import uvicorn
from rich.console import Console

from connectors.publish.kafka import KafkaPublisher
from connectors.receivers.app import ReceiverConfig, Source, build_app
from connectors.receivers.base import Delivery, ReceiverMetrics
from connectors.receivers.loki_pull import LokiPuller
from connectors.receivers.otlp_kafka import OtlpKafkaConsumer
from streams.settings import Settings, get_settings
from streams.stack.manager import LocalStack

app = typer.Typer(invoke_without_command=True, no_args_is_help=False)
console = Console()


def _sources(settings: Settings, delivery: Delivery, cfg: ReceiverConfig) -> list[Source]:
    sources: list[Source] = []
    if settings.loki_pull_url:
        cursor = settings.loki_pull_cursor_path or Path(settings.data_dir) / "loki_cursor.json"
        sources.append(LokiPuller(
            settings.loki_pull_url, settings.loki_pull_query, delivery,
            default_cluster=cfg.default_cluster, limit=settings.loki_pull_limit,
            interval_s=settings.loki_pull_interval_s, lag_s=settings.loki_pull_lag_s,
            cursor_path=cursor))
    if settings.otlp_kafka_bootstrap:
        topics = [t.strip() for t in settings.otlp_kafka_topics.split(",")]
        sources.append(OtlpKafkaConsumer(
            settings.otlp_kafka_bootstrap, topics, delivery,
            default_cluster=cfg.default_cluster, group=settings.otlp_kafka_group))
    return sources


@app.callback()
def receive(
    host: str | None = typer.Option(None, help="Listen address (default AIOPS_RECEIVER_HOST)."),
    port: int | None = typer.Option(None, help="HTTP port (default AIOPS_RECEIVER_PORT)."),
    cluster: str | None = typer.Option(
        None, help="Default cluster (default AIOPS_RECEIVER_DEFAULT_CLUSTER)."),
) -> None:
    """Serve /v1/{traces,logs,metrics}, /loki/api/v1/push, /alertmanager/webhook,
    /metrics, /health and /ready until interrupted."""
    settings = get_settings()
    cfg = ReceiverConfig.from_settings(settings)
    if cluster:
        cfg = dataclasses.replace(cfg, default_cluster=cluster)
    bootstrap = LocalStack(settings).kafka_bootstrap()
    publisher = KafkaPublisher(bootstrap, **{"linger.ms": 5})
    metrics = ReceiverMetrics()
    delivery = Delivery(publisher, metrics, timeout_s=cfg.publish_timeout_s,
                        max_inflight=cfg.max_inflight, retry_after_s=cfg.retry_after_s)
    sources = _sources(settings, delivery, cfg)
    web = build_app(publisher, cfg, metrics=metrics, sources=sources)
    listen_host = host or settings.receiver_host
    listen_port = settings.receiver_port if port is None else port
    console.print(f"receivers on http://{listen_host}:{listen_port} -> kafka {bootstrap}")
    try:
        uvicorn.run(web, host=listen_host, port=listen_port, log_level="warning",
                    access_log=False)
    finally:
        publisher.close()
