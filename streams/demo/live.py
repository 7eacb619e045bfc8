"""The demo's live terminal view: ingest, lag, anomalies and incidents as they open."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from streams.demo.scenario import ScenarioRun

INCIDENTS_SQL = """
SELECT i.incident_id, i.cluster, i.title, i.status, toUnixTimestamp64Milli(i.opened_ts),
       r.top_entity_type, r.top_entity, r.probable_cause
FROM (SELECT * FROM `{db}`.incidents FINAL) AS i
LEFT JOIN (SELECT incident_id, argMax(top_entity_type, timestamp) AS top_entity_type,
                  argMax(top_entity, timestamp) AS top_entity,
                  argMax(probable_cause, timestamp) AS probable_cause
           FROM `{db}`.rca_reports GROUP BY incident_id) AS r USING incident_id
ORDER BY i.opened_ts DESC LIMIT {limit}
"""


class LiveView:
    """Polls the run, the supervisor telemetry and ClickHouse; renders one rich Group."""

    def __init__(self, run: ScenarioRun, client: Any, database: str, files: Any) -> None:
        self.run = run
        self.client = client
        self.db = database
        self.files = files
        self.last: tuple[float, int] | None = None
        self.ingest_rate = 0.0

    def _ingest(self) -> tuple[int, float]:
        produced = int(self.run.counts().get("samples", 0) + self.run.counts().get(
            "gpu_samples", 0))
        now = time.monotonic()
        if self.last is not None and now > self.last[0]:
            self.ingest_rate = (produced - self.last[1]) / (now - self.last[0])
        self.last = (now, produced)
        return produced, self.ingest_rate

    def _query(self, sql: str) -> list[tuple]:
        try:
            return self.client.query(sql).result_rows
        except Exception:  # noqa: BLE001 - a slow ClickHouse leaves the panel empty this time
            return []

    def render(self) -> Group:
        produced, rate = self._ingest()
        sim_now = "-"
        if self.run.fleet is not None and self.run.running and self.run.scenario.speed > 0:
            elapsed = time.monotonic() - self.run.started_wall
            sim_s = elapsed * self.run.scenario.speed
            sim_now = f"{sim_s / 60:5.1f} of {(self.run.end_ms - self.run.start_ms) / 60000:.0f}"
        head = (f"[bold]simulated minutes[/bold] {sim_now}   [bold]samples produced[/bold] "
                f"{produced:,}   [bold]ingest[/bold] {rate:,.0f} samples/s")
        anomalies = self._query(f"SELECT count() FROM `{self.db}`.anomalies")
        stored = self._query(f"SELECT count() FROM `{self.db}`.metrics")
        head += (f"   [bold]stored[/bold] {stored[0][0] if stored else 0:,}"
                 f"   [bold]anomalies[/bold] {anomalies[0][0] if anomalies else 0:,}")
        comps = Table(title="components", expand=False)
        for col in ("component", "alive", "lag", "lag s", "throughput"):
            comps.add_column(col)
        rows = self.files.read_telemetry()[-1:]
        for name, c in (rows[0]["components"].items() if rows else []):
            rate_txt = "-" if c.get("rate") is None else f"{c['rate']:,.0f}/s"
            comps.add_row(name, "[green]yes[/green]" if c.get("alive") else "[red]no[/red]",
                          str(c.get("lag", "-")), str(c.get("lag_s", "-")), rate_txt)
        incidents = Table(title="incidents (newest first)", expand=True)
        for col in ("cluster", "incident", "status", "top-ranked cause", "explanation"):
            incidents.add_column(col, overflow="fold")
        for r in self._query(INCIDENTS_SQL.format(db=self.db, limit=8)):
            cause = f"{r[5]}:{r[6]}" if r[6] else "[dim]ranking ...[/dim]"
            incidents.add_row(r[1], r[2][:60], r[3], cause, (r[7] or "")[:90])
        faults = Table(title="injected faults (ground truth)")
        for col in ("kind", "cluster", "root cause"):
            faults.add_column(col, overflow="fold")
        for f in self.run.fleet.faults if self.run.fleet else []:
            started = self.run.truth.exists() and f.fault_id in self.run.truth.read_text()
            if started:
                faults.add_row(f.kind, f.cluster, f"{f.root_cause_type}:{f.root_cause}")
        return Group(Panel(head, title="AIOps NextGen demo"), comps, faults, incidents)
