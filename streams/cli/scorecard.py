"""``aiops scorecard``: injected faults vs. the incidents and root causes the pipeline found."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from streams.scorecard.build import RunInfo, build, run_info_path
from streams.scorecard.html import render
from streams.scorecard.model import Scorecard
from streams.settings import get_settings
from streams.stack.manager import LocalStack
from streams.supervisor.state import StateFiles

app = typer.Typer()


def print_card(card: Scorecard, console: Console) -> None:
    """The scorecard as rich tables (per fault, then the headline figures)."""
    table = Table(title="Injected faults")
    for col in ("fault", "cluster", "true root cause", "anomalies", "detected", "time to detect",
                "by anomaly", "rank", "top-ranked cause"):
        table.add_column(col, overflow="fold")
    for s in card.faults:
        rank = "-" if s.cause_rank is None else f"#{s.cause_rank}"
        style = "green" if s.top1 else "yellow" if s.top3 else "red"
        table.add_row(s.kind, s.cluster, s.root_cause, str(s.anomalies),
                      "yes" if s.detected else "[red]MISSED[/red]",
                      "-" if s.time_to_detect_s is None else f"{s.time_to_detect_s:.0f}s",
                      "-" if s.anomaly_time_to_detect_s is None
                      else f"{s.anomaly_time_to_detect_s:.0f}s",
                      f"[{style}]{rank}[/{style}]", s.top_cause or "-")
    console.print(table)
    j = card.to_json()
    head = Table(title="Scorecard", show_header=False)
    for key in ("detected_ratio", "detected_by_anomaly_ratio", "top1_ratio", "top3_ratio",
                "mean_time_to_detect_s", "mean_anomaly_time_to_detect_s", "false_incidents",
                "false_incidents_per_hour",
                "samples_per_s", "lag_p99_s", "rows_lost", "dead_letters"):
        head.add_row(key, "-" if j[key] is None else str(j[key]))
    console.print(head)


@app.callback(invoke_without_command=True)
def scorecard(
    as_json: bool = typer.Option(False, "--json", help="Print the scorecard as JSON."),
    html: Path = typer.Option(None, "--html", help="Write the HTML report here."),  # noqa: B008
    truth: Path = typer.Option(  # noqa: B008 - typer's idiom
        None, help="Ground-truth JSONL (default: the demo's, else the aiops.groundtruth topic)."),
    run: Path = typer.Option(  # noqa: B008 - typer's idiom
        None, help="Run counters JSON (default: <data_dir>/demo/run.json if present)."),
) -> None:
    """Score every injected fault: detected, time to detect, top-1/top-3 cause, false incidents."""
    settings = get_settings()
    local = LocalStack(settings)
    run_path = run or run_info_path(settings)
    info = RunInfo.load(run_path) if run_path.exists() else None
    if truth is None and info is not None and info.truth and Path(info.truth).exists():
        truth = Path(info.truth)
    telemetry = StateFiles(settings.data_dir).read_telemetry()
    report = build(settings, local.clickhouse_url(),
                   bootstrap=None if truth else local.kafka_bootstrap(), truth=truth, run=info,
                   telemetry=telemetry)
    if html is not None:
        html.write_text(render(report.card, report.faults, report.results.incidents, telemetry))
        Console(stderr=True).print(f"HTML report: {html}")
    if as_json:
        typer.echo(json.dumps(report.card.to_json(), indent=2))
    else:
        print_card(report.card, Console())
