"""``aiops status``: every pipeline component with health, consumer lag and throughput.

``aiops stack status`` reports only Kafka and ClickHouse.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.console import Console
from rich.table import Table

from streams.settings import get_settings
from streams.supervisor import control

app = typer.Typer()


def _fmt(value: float | int | None, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


@app.callback(invoke_without_command=True)
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Each component with health, consumer lag (records, seconds) and throughput."""
    rows = control.status(get_settings())
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        table = Table(title="AIOps pipeline")
        for col in ("component", "status", "pid", "health", "restarts", "lag", "lag s",
                    "throughput", "detail"):
            table.add_column(col)
        for r in rows:
            health = "[green]ok[/green]" if r.healthy else (
                "[dim]-[/dim]" if r.status == "skipped" else "[red]down[/red]")
            rate = f"{r.rate:,.0f} {r.unit}" if r.rate is not None else "-"
            table.add_row(r.name, r.status, _fmt(r.pid), health, str(r.restarts), _fmt(r.lag),
                          _fmt(r.lag_s), rate,
                          r.detail.rsplit("/", 1)[-1] if r.status != "skipped" else r.detail)
        Console().print(table)
    if any(r.status not in ("skipped",) and not r.healthy for r in rows):
        raise typer.Exit(1)
