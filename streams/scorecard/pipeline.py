"""Pipeline figures from the supervisor's telemetry and the run's counters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streams.scorecard.model import Pipeline


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def lag_series(telemetry: list[dict[str, Any]]) -> list[tuple[float, dict[str, float]]]:
    """(wall time s, component -> lag seconds) for every telemetry row."""
    out = []
    for row in telemetry:
        lags = {name: float(c["lag_s"]) for name, c in row.get("components", {}).items()
                if c.get("lag_s") is not None}
        if lags:
            out.append((float(row["ts"]), lags))
    return out


def rate_series(telemetry: list[dict[str, Any]]) -> list[tuple[float, dict[str, float]]]:
    """(wall time s, component -> throughput) for every telemetry row."""
    out = []
    for row in telemetry:
        rates = {name: float(c["rate"]) for name, c in row.get("components", {}).items()
                 if c.get("rate") is not None}
        if rates:
            out.append((float(row["ts"]), rates))
    return out


def figures(telemetry: list[dict[str, Any]], *, samples_produced: int | None,
            rows_stored: int, dead_letters: int, wall_s: float | None) -> Pipeline:
    """Samples/s (stored rows over the run's wall time), p99 end-to-end lag, loss, DLQ."""
    series = lag_series(telemetry)
    worst = [max(lags.values()) for _, lags in series]
    p99 = percentile(worst, 99)
    by_component: dict[str, float] = {}
    for name in sorted({n for _, lags in series for n in lags}):
        value = percentile([lags[name] for _, lags in series if name in lags], 99)
        if value is not None:
            by_component[name] = round(value, 3)
    return Pipeline(
        samples_produced=samples_produced, rows_stored=rows_stored,
        rows_lost=None if samples_produced is None else samples_produced - rows_stored,
        dead_letters=dead_letters,
        samples_per_s=round(rows_stored / wall_s, 1) if wall_s else None,
        lag_p99_s=None if p99 is None else round(p99, 3), wall_s=wall_s,
        lag_p99_s_by_component=by_component)
