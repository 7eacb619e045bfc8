"""``aiops llm personas | explain``: inspect personas, try the explanation chain."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from streams.llm.personas import PERSONAS
from streams.rca.explain import Explainer
from streams.settings import get_settings

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.command()
def personas() -> None:
    """List the personas and the chat tools each may call."""
    table = Table(title="Personas")
    table.add_column("persona")
    table.add_column("audience")
    table.add_column("tools")
    for persona in PERSONAS.values():
        table.add_row(persona.name, persona.title, ", ".join(persona.tools))
    console.print(table)


@app.command()
def explain(
    causes_file: Annotated[Path, typer.Argument(
        help="JSON: a list of RankedCause dicts, or an object with a 'causes' list.")],
    persona: Annotated[str, typer.Option(help="Persona shaping the explanation.")] = "default",
) -> None:
    """Explain ranked causes with the configured chain (template if none); print JSON."""
    try:
        data = json.loads(causes_file.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"cannot read {causes_file}: {exc}") from exc
    causes = data.get("causes") if isinstance(data, dict) else data
    if not isinstance(causes, list):
        raise typer.BadParameter("expected a list of ranked causes or {'causes': [...]}")
    explainer = Explainer.from_settings(get_settings())
    try:
        result = explainer.explain(causes, persona)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    finally:
        if explainer.chain is not None:
            explainer.chain.close()
    out = {**result.report_fields(), "cost_usd": result.cost_usd,
           "attempts": [asdict(a) for a in result.attempts]}
    typer.echo(json.dumps(out, indent=2))
