"""``aiops ask "question"``: stream an answer from the chat API, showing the tool calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from streams.settings import get_settings

app = typer.Typer(context_settings={"allow_interspersed_args": True})  # options after the text


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs from server-sent-event lines.

    >>> list(sse_events(iter(["event: a", 'data: {"x": 1}', ""])))
    [('a', {'x': 1})]
    """
    kind, data = "message", []
    for line in lines:
        if not line:
            if data:
                yield kind, json.loads("\n".join(data))
            kind, data = "message", []
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    if data:
        yield kind, json.loads("\n".join(data))


def _fail(response: httpx.Response, console: Console) -> None:
    try:
        err = response.json().get("error", {})
    except ValueError:
        err = {"message": response.text}
    reason = (err.get("details") or {}).get("reason") if isinstance(err.get("details"),
                                                                     dict) else None
    console.print(f"[red]error {response.status_code}: {err.get('message', '')}"
                  + (f" ({reason})" if reason else ""), markup=True, highlight=False)
    raise typer.Exit(1)


def render(events: Iterator[tuple[str, dict[str, Any]]], console: Console) -> dict[str, Any]:
    """Print the answer as it streams, tool calls on their own lines; the final usage."""
    done: dict[str, Any] = {}
    for kind, data in events:
        if kind == "content_delta":
            console.out(data["text"], end="", highlight=False)
        elif kind == "tool_use":
            args = json.dumps(data.get("arguments", {}), sort_keys=True)
            if data.get("refused"):
                console.print(f"\n[red]x refused {data['name']} {args}[/red]", highlight=False)
            else:
                console.print(f"\n[cyan]> {data['name']} {args}[/cyan]", highlight=False)
        elif kind == "tool_result" and not data.get("refused"):
            status = "ok" if data.get("ok") else f"error: {data.get('error')}"
            console.print(f"[dim]  < {data['name']}: {status}[/dim]", highlight=False)
        elif kind == "error":
            console.print(f"\n[red]error: {data.get('reason')}[/red]", highlight=False)
        elif kind == "message_complete":
            done = data
    console.print(f"\n[dim]{done.get('provider', '?')} {done.get('model', '')} | "
                  f"tokens {done.get('tokens_in', 0)} in / {done.get('tokens_out', 0)} out | "
                  f"{done.get('latency_ms', 0)} ms | {done.get('stop_reason', '')}[/dim]",
                  highlight=False)
    return done


@app.callback(invoke_without_command=True)
def ask(
    question: Annotated[str, typer.Argument(help="What to ask about the fleet.")],
    persona: Annotated[str, typer.Option(help="Persona (see `aiops llm personas`).")] = "default",
    session: Annotated[str | None, typer.Option(help="Continue this chat session.")] = None,
    url: Annotated[str | None, typer.Option(help="API base URL (AIOPS_CLI_API_URL).")] = None,
    token: Annotated[str | None, typer.Option(help="Bearer token (AIOPS_CLI_API_TOKEN).")] = None,
) -> None:
    """Ask the chat API; the answer streams, tool calls are shown as they happen."""
    settings = get_settings()
    secret = token or (settings.cli_api_token.get_secret_value()
                       if settings.cli_api_token else "")
    console = Console(highlight=False, soft_wrap=True)
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    base = (url or settings.cli_api_url).rstrip("/")
    try:
        done, session = _converse(base, headers, question, persona, session, console)
    except httpx.HTTPError as exc:
        console.print(f"[red]error: cannot reach the API at {base}: {exc}[/red]",
                      highlight=False)
        raise typer.Exit(1) from exc
    console.print(f"[dim]session {session}[/dim]", highlight=False)
    if done.get("stop_reason") == "error" or not done:
        raise typer.Exit(1)


def _converse(base: str, headers: dict[str, str], question: str, persona: str,
              session: str | None, console: Console) -> tuple[dict[str, Any], str]:
    with httpx.Client(base_url=base + "/api/v1/chat", headers=headers,
                      timeout=httpx.Timeout(30, read=300), trust_env=False) as client:
        if session is None:
            created = client.post("/sessions", json={"persona": persona})
            if created.status_code != 201:
                _fail(created, console)
            session = created.json()["session_id"]
        with client.stream("POST", f"/sessions/{session}/messages/stream",
                           json={"content": question}) as response:
            if response.status_code != 200:
                response.read()
                _fail(response, console)
            return render(sse_events(response.iter_lines()), console), session
