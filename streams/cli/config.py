"""``aiops config show | readme``."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from streams.settings import Settings, get_settings, settings_table

app = typer.Typer(no_args_is_help=True)
console = Console()
README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"<!-- settings:start -->.*?<!-- settings:end -->", re.S)


@app.command()
def show() -> None:
    """Print the effective settings (secrets masked)."""
    settings = get_settings()
    table = Table(title="Effective settings")
    table.add_column("variable")
    table.add_column("value")
    for name in Settings.model_fields:
        table.add_row(f"AIOPS_{name.upper()}", str(getattr(settings, name)))
    console.print(table)


def readme_with_table(text: str) -> str:
    """README text with the generated configuration table in its marked block."""
    block = f"<!-- settings:start -->\n{settings_table()}\n<!-- settings:end -->"
    return BLOCK.sub(lambda _: block, text)


@app.command()
def readme(check: bool = typer.Option(False, help="Fail if README's table is stale.")) -> None:
    """Regenerate the README's configuration table from the settings object."""
    text = README.read_text()
    fresh = readme_with_table(text)
    if check:
        if fresh != text:
            console.print("[red]README configuration table is stale: run `aiops config readme`")
            raise typer.Exit(1)
        return
    README.write_text(fresh)
    console.print("README configuration table updated")
