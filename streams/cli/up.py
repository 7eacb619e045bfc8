"""``aiops up``: the whole pipeline as supervised processes (stop it with ``aiops down``)."""

from __future__ import annotations

import typer
from rich.console import Console

from streams.settings import get_settings
from streams.stack import StackError
from streams.supervisor import control
from streams.supervisor.state import StateFiles

app = typer.Typer()
console = Console()


@app.callback(invoke_without_command=True)
def up(
    only: list[str] = typer.Option(  # noqa: B008 - typer's idiom
        None, "--only", help="Run only these components (repeatable; default: all)."),
    free_ports: bool = typer.Option(
        False, help="Pick free ports for every /metrics and HTTP endpoint."),
    timeout: float = typer.Option(120.0, help="Seconds to wait for the stack and components."),
) -> None:
    """Start the local stack (if local) and every pipeline component, supervised."""
    settings = get_settings()
    try:
        result = control.up(settings, free_ports=free_ports, only=set(only) if only else None,
                           timeout=timeout)
    except (StackError, control.UpError) as exc:
        console.print(f"[red]aiops up failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    state = result.state
    if not result.started:
        console.print("[yellow]already running[/yellow] (`aiops status`; `aiops down` stops it)")
    pending = control.wait_healthy(settings, timeout=timeout)
    files = StateFiles(settings.data_dir)
    for c in state.components.values():
        mark = "[yellow]starting[/yellow]" if c.name in pending else "[green]up[/green]"
        console.print(f"  {c.name:<10} {mark}  pid {c.pid}  log {c.log}")
    for name, reason in state.skipped.items():
        console.print(f"  {name:<10} [dim]skipped: {reason}[/dim]")
    console.print(f"supervisor pid {state.pid}; logs in {files.logs}; stop with `aiops down`")
    api = state.components.get("api")
    if api and api.health_url:
        console.print(f"API: {api.health_url.removesuffix('/health')}/api/v1")
    if result.api_token:
        console.print("first API token (admin; shown once, only its hash is stored):")
        typer.echo(result.api_token)
    if pending:
        console.print(f"[yellow]not answering yet:[/yellow] {', '.join(pending)}")
