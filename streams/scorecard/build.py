"""Assemble a scorecard from a run's truth, ClickHouse results and supervisor telemetry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.scorecard.matching import score
from streams.scorecard.model import Fault, Scorecard
from streams.scorecard.pipeline import figures
from streams.scorecard.sources import (
    Results,
    faults_from_jsonl,
    faults_from_topic,
    results_from_clickhouse,
)
from streams.settings import Settings


@dataclass
class RunInfo:
    """Counters of a simulated run (written by the demo as ``<data_dir>/demo/run.json``)."""

    samples: int  # metric samples produced (rows expected in ``metrics``)
    gpu_samples: int  # GPU samples produced (rows expected in ``gpu``)
    wall_s: float  # from the first record produced to the pipeline drained
    start_ms: int
    end_ms: int
    truth: str | None = None
    wall_started: float | None = None  # epoch s: the supervisor telemetry of this run
    wall_ended: float | None = None

    @classmethod
    def load(cls, path: Path) -> RunInfo:
        return cls(**json.loads(path.read_text()))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.__dict__, indent=2))


@dataclass
class Report:
    """Everything the JSON and HTML renderings need."""

    card: Scorecard
    faults: list[Fault]
    results: Results
    telemetry: list[dict[str, Any]]


def run_info_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "demo" / "run.json"


def build(settings: Settings, clickhouse_url: str, *, bootstrap: str | None = None,
          truth: Path | None = None, run: RunInfo | None = None,
          telemetry: list[dict[str, Any]] | None = None) -> Report:
    """The scorecard of the run whose results are in ``settings.clickhouse_database``."""
    from connectors.clickhouse.client import connect

    if truth is not None:
        faults = faults_from_jsonl(truth)
    elif bootstrap is not None:
        faults = faults_from_topic(bootstrap)
    else:
        raise ValueError("no ground truth: give a --truth file or a Kafka bootstrap")
    client = connect(clickhouse_url)
    # A run's window: its simulated span plus the grace a late incident may open in.
    window = None if run is None else (run.start_ms, run.end_ms + 15 * 60_000)
    results = results_from_clickhouse(client, settings.clickhouse_database, window)
    lo, hi = window or (0, 2**62)
    gpu_rows = int(client.command(
        f"SELECT count() FROM `{settings.clickhouse_database}`.gpu "
        f"WHERE toUnixTimestamp64Milli(timestamp) BETWEEN {lo} AND {hi}"))
    spans = dict(results.spans)
    if run is not None:  # the whole simulated span, also for clusters that went dark
        for cluster in {f.cluster for f in faults} | set(spans):
            spans[cluster] = (run.start_ms, run.end_ms)
    card = score(faults, results.incidents, results.reports, spans,
                 anomalies=results.anomaly_starts)
    telemetry = telemetry or []
    if run is not None and run.wall_started and run.wall_ended:
        telemetry = [t for t in telemetry if run.wall_started <= t["ts"] <= run.wall_ended]
    card.pipeline = figures(
        telemetry, samples_produced=None if run is None else run.samples + run.gpu_samples,
        rows_stored=results.rows_stored + gpu_rows, dead_letters=results.dead_letters,
        wall_s=None if run is None else run.wall_s)
    return Report(card, faults, results, telemetry)
