"""``aiops scrape run | check``: the spoke-side collector."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console

from connectors.publish.kafka import KafkaPublisher
from connectors.sources.config import ScrapeConfig
from connectors.sources.discovery import Discoverer
from streams.scrape.service import ScrapeService, spool_dir_for
from streams.settings import get_settings
from streams.stack.manager import LocalStack

app = typer.Typer(no_args_is_help=True)
console = Console()

ConfigOpt = typer.Option(None, "--config", "-c", help="Scrape YAML (default AIOPS_SCRAPE_CONFIG).")


def _load(config: Path | None) -> ScrapeConfig:
    path = config or get_settings().scrape_config
    if path is None:
        console.print("[red]no scrape config:[/red] pass --config or set AIOPS_SCRAPE_CONFIG")
        raise typer.Exit(2)
    try:
        return ScrapeConfig.load(path)
    except (OSError, ValidationError, ValueError) as exc:
        console.print(f"[red]invalid scrape config {path}:[/red]\n{exc}")
        raise typer.Exit(2) from exc


@app.command()
def check(config: Path | None = ConfigOpt) -> None:
    """Validate the config and list every discovered target."""
    cfg = _load(config)
    for job in cfg.scrape_configs:
        disc = Discoverer(job)
        targets = disc.targets()
        console.print(f"[bold]{job.job_name}[/bold] ({job.source}, every "
                      f"{job.interval_s(cfg.global_)}s): {len(targets)} target(s)")
        for t in targets:
            console.print(f"  {t.address}  {t.labels}")
        for path, err in disc.errors.items():
            console.print(f"  [red]{path}: {err}[/red]")


@app.command()
def run(
    config: Path | None = ConfigOpt,
    metrics_port: int | None = typer.Option(None, help="/metrics port (0: none)."),
) -> None:
    """Scrape every configured target and publish to Kafka until interrupted."""
    settings = get_settings()
    cfg = _load(config)
    bootstrap = LocalStack(settings).kafka_bootstrap()
    publisher = KafkaPublisher(
        bootstrap, spool_dir=spool_dir_for(Path(settings.data_dir), cfg.cluster.name),
        spool_max_bytes=settings.spool_max_bytes)
    service = ScrapeService(cfg, publisher)
    port = settings.scrape_metrics_port if metrics_port is None else metrics_port
    if port:
        console.print(f"/metrics on :{service.serve_metrics(port)}")

    async def main() -> None:
        task = asyncio.create_task(service.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per scrape
    try:
        asyncio.run(main())
    finally:
        publisher.close(timeout=10.0 if publisher.online else 1.0)
