"""``aiops simulate run | faults | fleet``: the fleet simulator with labelled fault injection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from streams.settings import get_settings
from streams.simulator.clock import aligned_now_ms, parse_duration
from streams.simulator.emitters.base import Emitter
from streams.simulator.faults import CATALOGUE, SCHEDULES, load_schedule, parse_spec
from streams.simulator.fleet import FleetRun
from streams.simulator.topology import build_fleet

app = typer.Typer(no_args_is_help=True)
console = Console(stderr=True)
MODES = ("direct", "expose", "push")
TRUTH = Path("groundtruth.jsonl")


def _bootstrap(explicit: str | None) -> str:
    if explicit:
        return explicit
    from streams.stack.manager import LocalStack

    return LocalStack(get_settings()).kafka_bootstrap()


@app.command()
def run(
    clusters: int = typer.Option(4, help="Number of clusters (HUB, then SPOKE/EDGE/FAR_EDGE)."),
    seed: int = typer.Option(42, help="Seed: same seed, start and schedule -> same output."),
    workers: int = typer.Option(3, help="Worker nodes per cluster (scales the series count)."),
    step: str = typer.Option("15s", help="Simulated scrape interval."),
    speed: float = typer.Option(1.0, help="Simulated/wall time ratio (60 = an hour a minute; "
                                "0 = as fast as possible)."),
    duration: str = typer.Option("15m", help="Simulated time to run."),
    start: str = typer.Option("now", help="Simulated start: 'now' or epoch milliseconds."),
    schedule: str = typer.Option("none", help=f"Named schedule ({', '.join(SCHEDULES)}) or a "
                                 "YAML file."),
    fault: Annotated[list[str] | None, typer.Option(
        help="Extra fault, kind@+START/DURATION[:k=v,...]; repeatable.")] = None,
    mode: Annotated[list[str] | None, typer.Option(
        help="direct (Kafka), expose (HTTP /metrics), push (OTLP/Loki/webhook); repeatable; "
        "default direct.")] = None,
    bootstrap: str | None = typer.Option(None, help="Kafka bootstrap (default: settings or the "
                                         "local stack)."),
    truth: Annotated[Path, typer.Option(help="Ground-truth JSONL file (appended).")] = TRUTH,
    port: int = typer.Option(9300, help="Exposition port on 127.0.0.1 (0 = pick one)."),
    otlp_url: str | None = typer.Option(None, help="OTLP/HTTP base URL for span pushes."),
    loki_url: str | None = typer.Option(None, help="Loki base URL for log pushes."),
    alertmanager_url: str | None = typer.Option(None, help="Webhook URL for alert pushes."),
    traces_per_tick: int = typer.Option(4, help="Sampled web-shop traces per cluster tick."),
    logs_per_tick: int = typer.Option(40, help="Mean INFO log lines per cluster tick."),
) -> None:
    """Simulate the fleet, inject the scheduled faults and write their ground truth."""
    mode = mode or ["direct"]
    fault = fault or []
    bad = [m for m in mode if m not in MODES]
    if bad:
        raise typer.BadParameter(f"unknown mode(s) {bad}; use {', '.join(MODES)}")
    try:
        step_ms, duration_ms = parse_duration(step), parse_duration(duration)
        specs = load_schedule(schedule) + [parse_spec(f) for f in fault]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    start_ms = aligned_now_ms(step_ms) if start == "now" else int(start)
    emitters: list[Emitter] = []
    if "direct" in mode:
        from streams.kafka import admin
        from streams.simulator.emitters.direct import DirectEmitter

        servers = _bootstrap(bootstrap)
        try:
            admin.apply(servers)
        except Exception as exc:  # noqa: BLE001 - any broker failure ends the command cleanly
            console.print(f"[red]Kafka at {servers} is not usable ({exc}); start it with "
                          "'aiops stack up' or pass --bootstrap[/red]")
            raise typer.Exit(1) from exc
        emitters.append(DirectEmitter(servers))
    if "expose" in mode:
        from streams.simulator.emitters.exposition import ExpositionEmitter

        emitters.append(ExpositionEmitter(port=port, timestamps=speed != 1.0))
    if "push" in mode:
        from streams.simulator.emitters.push import PushEmitter

        emitters.append(PushEmitter(otlp_url, loki_url, alertmanager_url))
    try:
        sim = FleetRun.create(clusters=clusters, seed=seed, start_ms=start_ms, step_ms=step_ms,
                              speed=speed, specs=specs, workers=workers,
                              traces_per_tick=traces_per_tick, logs_per_tick=logs_per_tick,
                              emitters=emitters, truth_path=truth)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    for f in sim.faults:
        console.print(f"fault {f.kind} on {f.cluster}: {f.root_cause_type} {f.root_cause} "
                      f"[{f.start_ts} .. {f.end_ts})")
    stats = sim.run(ticks=max(1, duration_ms // step_ms))
    typer.echo(json.dumps(stats))


@app.command()
def faults() -> None:
    """List the fault catalogue and the named schedules."""
    table = Table(title="Fault catalogue")
    for col in ("kind", "root cause", "needs", "what it does"):
        table.add_column(col)
    for k in CATALOGUE.values():
        table.add_row(k.name, k.entity_type, k.needs, k.description)
    console.print(table)
    for name, specs in SCHEDULES.items():
        console.print(f"[bold]{name}[/bold]: {' '.join(specs) or '(no faults)'}")


@app.command()
def fleet(clusters: int = typer.Option(4), seed: int = typer.Option(42),
          workers: int = typer.Option(3)) -> None:
    """Show the simulated fleet's clusters."""
    from streams.simulator.engine import ClusterSim

    table = Table(title="Simulated fleet")
    for col in ("cluster", "type", "region", "nodes", "pods", "services", "GPUs", "PTP", "series"):
        table.add_column(col)
    for c in build_fleet(clusters, seed, workers):
        series = ClusterSim(c, seed, 0, 15_000).series_count
        table.add_row(c.name, c.type, c.region, str(len(c.nodes)), str(len(c.pods)),
                      str(len(c.services)), str(len(c.gpus)), "yes" if c.has_ptp else "",
                      str(series))
    console.print(table)
