"""The self-contained HTML scorecard: headline figures, incident timeline, lag and throughput."""

from __future__ import annotations

import time
from html import escape
from typing import Any

from streams.scorecard.model import Fault, Incident, Scorecard
from streams.scorecard.pipeline import lag_series, rate_series
from streams.scorecard.svg import PALETTE, Lane, line_chart, timeline

GOOD, WRONG, MISSED, FALSE = "#16a34a", "#ea580c", "#9ca3af", "#dc2626"

CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#111827;max-width:1000px}
h1{font-size:22px;margin-bottom:4px} .sub{color:#6b7280;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:22px} .card span{color:#6b7280;font-size:12px}
table{border-collapse:collapse;font-size:13px;margin:8px 0 20px}
td,th{border-bottom:1px solid #e5e7eb;padding:4px 8px;text-align:left}
.ok{color:#16a34a}.bad{color:#dc2626}.warn{color:#ea580c} svg{margin:8px 0 16px}
"""


def _hm(ms: float) -> str:
    return time.strftime("%H:%M", time.gmtime(ms / 1000))


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.0f}%"


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def _lanes(card: Scorecard, faults: list[Fault], incidents: list[Incident]) -> list[Lane]:
    by_id = {i.incident_id: i for i in incidents}
    kinds = sorted({f.kind for f in faults})
    color = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kinds)}
    lanes = []
    for s in card.faults:
        verdict = ("root cause ranked #1" if s.top1 else f"root cause ranked #{s.cause_rank}"
                   if s.cause_rank else "root cause not in the ranking")
        markers = [(by_id[i].opened_ts, GOOD if s.top3 else WRONG,
                    f"{by_id[i].title or i} (opened {_hm(by_id[i].opened_ts)}; {verdict})")
                   for i in s.incident_ids if i in by_id]
        label = f"{s.kind} @ {s.cluster}" + ("" if s.detected else "  (missed)")
        lanes.append(Lane(label, [(s.start_ts, s.end_ts, color[s.kind] if s.detected else MISSED,
                                   f"{s.kind}: {s.root_cause}")], markers))
    false_by_cluster: dict[str, list[Incident]] = {}
    for iid in card.false_incidents:
        if iid in by_id:
            false_by_cluster.setdefault(by_id[iid].cluster, []).append(by_id[iid])
    for cluster, incs in sorted(false_by_cluster.items()):
        lanes.append(Lane(f"no fault @ {cluster}", [], [
            (i.opened_ts, FALSE, f"false incident: {i.title or i.incident_id}") for i in incs]))
    return lanes


def render(card: Scorecard, faults: list[Fault], incidents: list[Incident],
           telemetry: list[dict[str, Any]], *, title: str = "AIOps NextGen fleet scorecard"
           ) -> str:
    """The whole report as one HTML string (inline SVG, no external resources)."""
    j = card.to_json()
    p = card.pipeline
    cards = "".join([
        _card(_pct(card.detected_ratio), f"faults detected ({len(card.faults)})"),
        _card(_pct(card.detected_by_anomaly_ratio), "detected through anomalies"),
        _card(_pct(card.top1_ratio), "root cause ranked #1"),
        _card(_pct(card.top3_ratio), "root cause in top 3"),
        _card("-" if j["mean_time_to_detect_s"] is None else f"{j['mean_time_to_detect_s']:.0f}s",
              "mean time to detect (sim.)"),
        _card("-" if j["mean_anomaly_time_to_detect_s"] is None
              else f"{j['mean_anomaly_time_to_detect_s']:.0f}s", "... through anomalies"),
        _card("-" if card.false_incidents_per_hour is None
              else f"{card.false_incidents_per_hour:.2f}", "false incidents / cluster-hour"),
        _card("-" if p.samples_per_s is None else f"{p.samples_per_s:,.0f}", "samples/s"),
        _card("-" if p.lag_p99_s is None else f"{p.lag_p99_s:.1f}s", "p99 end-to-end lag"),
        _card("-" if p.rows_lost is None else f"{p.rows_lost:,}", "rows lost"),
        _card("-" if p.dead_letters is None else f"{p.dead_letters:,}", "dead letters"),
    ])
    times = [t for f in faults for t in (f.start_ts, f.end_ts)] + [
        i.opened_ts for i in incidents]
    chart = timeline(_lanes(card, faults, incidents), x0=min(times, default=0),
                     x1=max(times, default=1), x_fmt=_hm,
                     title="Injected faults (bars) and incidents (diamonds: green = root cause "
                           "in top 3, orange = wrong cause, red = false incident)")
    t0 = telemetry[0]["ts"] if telemetry else 0.0

    def _series(rows: list[tuple[float, dict[str, float]]]) -> dict[str, list]:
        out: dict[str, list[tuple[float, float]]] = {}
        for ts, values in rows:
            for name, v in values.items():
                out.setdefault(name, []).append((ts - t0, v))
        return out

    lag = line_chart(_series(lag_series(telemetry)), title="Consumer lag per component",
                     y_label="seconds behind", x_fmt=lambda s: f"{s:.0f}s")
    rate = line_chart(_series(rate_series(telemetry)), title="Throughput per component",
                      y_label="records/s", x_fmt=lambda s: f"{s:.0f}s")
    rows = []
    for s in card.faults:
        cls = "ok" if s.top1 else "warn" if s.top3 else "bad"
        ttd = "-" if s.time_to_detect_s is None else f"{s.time_to_detect_s:.0f}s"
        attd = ("-" if s.anomaly_time_to_detect_s is None
                else f"{s.anomaly_time_to_detect_s:.0f}s")
        rank = "-" if s.cause_rank is None else f"#{s.cause_rank}"
        rows.append(f"<tr><td>{escape(s.kind)}</td><td>{escape(s.cluster)}</td>"
                    f"<td>{escape(s.root_cause)}</td><td>{s.anomalies}</td>"
                    f"<td>{'yes' if s.detected else 'MISSED'}</td>"
                    f"<td>{ttd}</td><td>{attd}</td><td class='{cls}'>{rank}</td>"
                    f"<td>{escape(s.top_cause or '-')}</td></tr>")
    kinds = "".join(
        f"<tr><td>{escape(k)}</td><td>{v['faults']}</td><td>{v['detected']}</td>"
        f"<td>{v['detected_by_anomaly']}</td>"
        f"<td>{v['top1']}</td><td>{v['top3']}</td></tr>" for k, v in card.kinds().items())
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{escape(title)}</title><style>{CSS}</style></head><body>
<h1>{escape(title)}</h1>
<p class="sub">{len(card.faults)} injected faults, {card.incidents} incidents,
{len(card.false_incidents)} false; generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}
</p>
<div class="cards">{cards}</div>
{chart}
<h2>Per fault</h2>
<table><tr><th>fault</th><th>cluster</th><th>true root cause</th><th>anomalies</th>
<th>detected</th><th>time to detect</th>
<th>by anomaly</th><th>cause rank</th><th>top-ranked cause</th></tr>{''.join(rows)}</table>
<h2>By kind</h2>
<table><tr><th>kind</th><th>faults</th><th>detected</th><th>by anomalies</th><th>top 1</th>
<th>top 3</th></tr>
{kinds}</table>
<h2>Pipeline</h2>
{lag}
{rate}
</body></html>
"""
