"""``make demo`` / ``python -m streams.demo``: the main job end to end on the local stack.

``aiops up`` (stack + every component), a seeded simulated fleet with a fault schedule at
accelerated time, a live terminal view, then the scorecard; the pipeline and the API stay up.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live

from connectors.clickhouse.client import connect
from streams.cli.scorecard import print_card
from streams.demo.live import LiveView
from streams.demo.scenario import Scenario, ScenarioRun
from streams.scorecard.build import RunInfo, build, run_info_path
from streams.scorecard.html import render
from streams.settings import Settings, get_settings
from streams.stack.manager import LocalStack
from streams.supervisor import control
from streams.supervisor.state import StateFiles

# The demo's detectors learn for 5 simulated minutes (20 samples at 15 s) instead of 25.
DEMO_ENV = {"AIOPS_DETECT_WARMUP": "20"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m streams.demo", description=__doc__)
    p.add_argument("--clusters", type=int, default=4)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--schedule", default="demo-short")
    p.add_argument("--speed", type=float, default=20.0)
    p.add_argument("--warmup", default="6m")
    p.add_argument("--tail", default="4m")
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--free-ports", action="store_true", help="Pick free ports everywhere.")
    p.add_argument("--no-live", action="store_true", help="Plain progress lines, no live view.")
    p.add_argument("--drain-timeout", type=float, default=180.0)
    p.add_argument("--html", type=Path, default=None, help="HTML report path.")
    p.add_argument("--json", action="store_true", help="Print the scorecard JSON last.")
    p.add_argument("--down", action="store_true", help="Stop everything at the end.")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=args.json)
    settings = get_settings()
    files = StateFiles(settings.data_dir)
    started = time.monotonic()
    with console.status("aiops up: local stack + pipeline components ..."):
        result = control.up(settings, free_ports=args.free_ports, extra_env=DEMO_ENV)
        pending = control.wait_healthy(settings, timeout=120)
    state = result.state
    console.print(f"[green]pipeline up[/green] in {time.monotonic() - started:.0f}s: "
                  f"{', '.join(state.components)}" + (f" (not answering yet: {pending})"
                                                      if pending else ""))
    if not result.started:
        console.print("[yellow]the pipeline was already running: it keeps its own settings "
                      "(the demo's short detector warm-up needs a fresh `aiops up`; run "
                      "`aiops down` first for that)[/yellow]")
    for name, reason in state.skipped.items():
        console.print(f"  [yellow]skipped[/yellow] {name}: {reason}")
    local = LocalStack(settings)
    bootstrap, url = local.kafka_bootstrap(), local.clickhouse_url()
    scenario = Scenario(clusters=args.clusters, seed=args.seed, schedule=args.schedule,
                        warmup=args.warmup, tail=args.tail, speed=args.speed,
                        workers=args.workers)
    truth = Path(settings.data_dir) / "demo" / "groundtruth.jsonl"
    truth.parent.mkdir(parents=True, exist_ok=True)
    wall_started = time.time()
    run = ScenarioRun(scenario, bootstrap, truth).start()
    view = LiveView(run, connect(url), settings.clickhouse_database, files)
    if args.no_live:
        while run.running:
            time.sleep(5)
            console.print(f"produced {run.counts().get('samples', 0):,} samples")
    else:
        with Live(view.render(), console=console, refresh_per_second=1) as live:
            while run.running:
                time.sleep(1.0)
                live.update(view.render())
    stats = run.join()
    with console.status("simulation done; waiting for the pipeline to drain ..."):
        behind = control.wait_drained(settings, timeout=args.drain_timeout)
    if not args.no_live:
        console.print(view.render())
    if behind:
        console.print(f"[yellow]still behind after {args.drain_timeout:.0f}s:[/yellow] {behind}")
    info = RunInfo(samples=int(stats.get("samples", 0)),
                   gpu_samples=int(stats.get("gpu_samples", 0)),
                   wall_s=round(time.time() - wall_started, 3), start_ms=run.start_ms,
                   end_ms=run.end_ms, truth=str(truth), wall_started=wall_started,
                   wall_ended=time.time())
    info.save(run_info_path(settings))
    report = build(settings, url, truth=truth, run=info, telemetry=files.read_telemetry())
    print_card(report.card, console)
    html = args.html or Path(settings.data_dir) / "demo" / "scorecard.html"
    html.write_text(render(report.card, report.faults, report.results.incidents,
                           report.telemetry))
    console.print(f"HTML scorecard: {html}")
    if args.down:
        control.down(settings)
        console.print("stopped everything (aiops down)")
    else:
        _print_access(console, state, result.api_token, settings)
    if args.json:
        print(json.dumps({**report.card.to_json(), "components": sorted(state.components),
                          "skipped": state.skipped, "drained": not behind}))
    return 0


def _print_access(console: Console, state: control.SupervisorState, token: str | None,
                  settings: Settings) -> None:
    api = state.components.get("api")
    if api is None or not api.health_url:
        console.print("the API is not part of this build; the pipeline stays up "
                      "(`aiops status`, `aiops down`)")
        return
    base = api.health_url.removesuffix("/health")
    if token is None:
        token = control.ensure_api_token(
            settings, LocalStack(settings).clickhouse_url(),
                                         name="demo", force=True)
    console.print(f"[bold]API[/bold] {base}/api/v1  (docs {base}/docs)")
    console.print(f"[bold]token[/bold] {token}")
    console.print(f"try: curl -H 'Authorization: Bearer {token}' {base}/api/v1/incidents")
    console.print("the pipeline stays up: `aiops status`, `aiops scorecard`, `aiops down`")


if __name__ == "__main__":
    sys.exit(main())
