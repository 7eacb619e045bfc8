"""``aiops topics apply | describe | generate``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from schemas import asyncapi, strimzi
from schemas.topics import TOPICS
from streams.kafka import admin
from streams.settings import get_settings
from streams.stack.manager import LocalStack

app = typer.Typer(no_args_is_help=True)
console = Console()
REPO = Path(__file__).resolve().parents[2]
STRIMZI_PATH = REPO / "deploy" / "strimzi" / "kafka-topics.yaml"
ASYNCAPI_PATH = REPO / "deploy" / "asyncapi.yaml"


def _bootstrap() -> str:
    return LocalStack(get_settings()).kafka_bootstrap()


@app.command()
def apply(dry_run: bool = typer.Option(False, help="Only show what would change.")) -> None:
    """Create or update every catalogue topic on the broker (idempotent)."""
    bootstrap = _bootstrap()
    changes = admin.plan(bootstrap) if dry_run else admin.apply(bootstrap)
    if not changes:
        console.print("topics up to date")
    for c in changes:
        console.print(f"{'would ' if dry_run else ''}{c.action} {c.topic}: {c.detail}")


@app.command()
def describe() -> None:
    """Show the catalogue beside what the broker has."""
    try:
        live = {d.name: d for d in admin.describe(_bootstrap())}
    except Exception as exc:  # noqa: BLE001 - still show the catalogue
        console.print(f"[yellow]broker not reachable ({exc}); showing the catalogue only")
        live = {}
    table = Table(title="Topic catalogue")
    for col in ("topic", "partitions", "replication", "retention", "cleanup", "key", "value",
                "on broker"):
        table.add_column(col)
    for t in TOPICS:
        d = live.get(t.name)
        table.add_row(
            t.name, str(t.partitions), str(t.replication),
            "forever" if t.retention_ms < 0 else f"{t.retention_ms / 3_600_000:g}h",
            t.cleanup_policy, t.key, t.value_schema,
            f"{d.partitions}p x{d.replication}" if d else "[red]missing",
        )
    console.print(table)


@app.command()
def generate(check: bool = typer.Option(False, help="Fail if the files are out of date.")) -> None:
    """Write deploy/strimzi/kafka-topics.yaml and deploy/asyncapi.yaml from the catalogue."""
    outputs = {STRIMZI_PATH: strimzi.render(), ASYNCAPI_PATH: asyncapi.render()}
    stale = [p for p, text in outputs.items() if not p.exists() or p.read_text() != text]
    if check:
        for p in stale:
            console.print(f"[red]out of date:[/red] {p.relative_to(REPO)}")
        raise typer.Exit(1 if stale else 0)
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        console.print(f"wrote {path.relative_to(REPO)}")
