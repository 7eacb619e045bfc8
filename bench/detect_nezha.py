"""Untuned streaming metric detection on the Nezha Online Boutique faults (issue #5).

The detect worker's metric path is run unchanged over data it was never tuned on: the
per-pod, per-minute metrics of ``../shared/eval/nezha-ob`` (loaded by
:mod:`streams.evaluation.nezha`; node-level columns are left out by the loader).  The
detector is :class:`~streams.detectors.MetricDetector` with the settings ``aiops detect``
gives it (``streams/cli/detect.py`` builds :class:`~streams.detect.metric_stage.StageConfig`
from the default :class:`~streams.settings.Settings`: sensitivity, warm-up, seasonal bins,
cooldown), followed by the worker's :class:`~streams.detect.cooldown.AlertGate`, so one
episode is one alert, exactly as :class:`~streams.detect.metric_stage.MetricStage` does.
Every (pod, metric) series is fed in time order, one vectorised ``update_z`` per minute
over all series; the fault list is read only afterwards, to score.

Scoring, per fault (inject time ``t0`` from the ``inject_time`` string, UTC):

* detected: an alert fires on a series of the faulty pod (or another pod of its service)
  at a sample time in ``[t0, t0 + N min]`` (``--window``, default 5); delay = first such
  sample time minus ``t0``, in minutes;
* false alarms: alerts at times outside every fault window, per series-hour of samples
  outside every window (after each series' warm-up, since none can fire before);
* precision in windows: of the alerts fired inside a fault window, the share on the
  faulty service (alerts on other pods there may be real propagation, so this is a floor).

Usage: ``python bench/detect_nezha.py [--window 5] [--verbose]``; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.detect.cooldown import AlertGate  # noqa: E402
from streams.detect.metric_stage import StageConfig  # noqa: E402
from streams.detectors import MetricDetector  # noqa: E402
from streams.evaluation import nezha  # noqa: E402
from streams.settings import Settings  # noqa: E402

MINUTE_MS = 60_000


def worker_config() -> StageConfig:
    """The StageConfig ``aiops detect`` builds from default settings (no AIOPS_ env)."""
    return StageConfig.from_settings(Settings.model_construct())  # defaults, no env read


def alerts(ts_ms: np.ndarray, values: np.ndarray, cfg: StageConfig) -> np.ndarray:
    """Fire flags ``(time, series)``: the worker's detector and alert gate, one causal pass."""
    n = values.shape[1]
    det = MetricDetector(n, sensitivity=cfg.sensitivity, warmup=cfg.warmup,
                         seasonal_bins=cfg.seasonal_bins, **cfg.detector)
    gate = AlertGate(n, z_on=cfg.z_on, z_off=0.5 * cfg.z_on, cooldown_ms=cfg.cooldown_ms,
                     escalate=cfg.escalate)
    day_ms = 86_400_000
    fire = np.zeros(values.shape, dtype=bool)
    for t in range(values.shape[0]):
        x = values[t]
        ok = np.isfinite(x)
        phase = None
        if cfg.seasonal_bins:
            phase = np.full(n, (ts_ms[t] // (day_ms // cfg.seasonal_bins)) % cfg.seasonal_bins)
        z = det.update_z(x, phase)
        slots = np.flatnonzero(ok)  # the worker only steps series that have a sample
        fire[t, slots] = gate.step(slots, z[slots], np.full(len(slots), ts_ms[t]))
    return fire


def score_day(day: str, cfg: StageConfig, window_ms: int, verbose: bool) -> dict:
    """Alerts of one day and the per-fault rows."""
    frame = nezha.load_metrics(day)
    keep = [j for j, s in enumerate(frame.series) if s.entity_type == "POD"]
    series = [frame.series[j] for j in keep]
    values = frame.values[:, keep]
    ts = frame.ts_ms
    fire = alerts(ts, values, cfg)
    services = np.array([s.labels["service"] for s in series])
    cases = nezha.fault_cases(day)
    in_window = np.zeros(len(ts), dtype=bool)
    rows = []
    tp_alerts = all_window_alerts = 0
    for c in cases:
        w = (ts >= c.inject_ms) & (ts <= c.inject_ms + window_ms)
        in_window |= w
        on_pod = fire[np.ix_(w, services == c.service)].any(axis=1)
        hit = np.flatnonzero(on_pod)
        delay = (int(ts[w][hit[0]]) - c.inject_ms) / MINUTE_MS if len(hit) else None
        tp_alerts += int(fire[np.ix_(w, services == c.service)].sum())
        all_window_alerts += int(fire[w].sum())
        others = sorted({str(s) for s in services[fire[w].any(axis=0)]} - {c.service})
        warm = int(np.searchsorted(ts, c.inject_ms)) >= cfg.warmup
        rows.append({"day": day, "fault_type": c.fault_type, "service": c.service,
                     "detected": delay is not None, "delay_min": delay,
                     "after_warmup": warm, "other_services_alerting": others})
        if verbose:
            print(f"{day} {c.fault_type:15s} {c.service:22s} "
                  f"{'HIT ' if delay is not None else 'MISS'} delay={delay} warm={warm} "
                  f"others={others}", flush=True)
    # Samples a series could alert on: it has a value and is past its own warm-up.
    ok = np.isfinite(values)
    warmed = np.cumsum(ok, axis=0) > cfg.warmup
    outside = ok & warmed & ~in_window[:, None]
    return {"rows": rows, "false_alarms": int(fire[~in_window].sum()),
            "outside_samples": int(outside.sum()), "series": len(series),
            "samples": int(ok.sum()), "tp_alerts": tp_alerts,
            "window_alerts": all_window_alerts, "alerts": int(fire.sum())}


def ratio(rows: list[dict]) -> float:
    return round(sum(r["detected"] for r in rows) / len(rows), 4) if rows else 0.0


def summarise(cfg: StageConfig, window_min: int, verbose: bool = False) -> dict:
    """Run every day with ``cfg`` and return the figures."""
    days = [score_day(d, cfg, window_min * MINUTE_MS, verbose) for d in nezha.days()]
    rows = [r for d in days for r in d["rows"]]
    delays = [r["delay_min"] for r in rows if r["detected"]]
    by_type: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_type[r["fault_type"]].append(r)
    warm_rows = [r for r in rows if r["after_warmup"]]
    outside_hours = sum(d["outside_samples"] for d in days) / 60
    false_alarms = sum(d["false_alarms"] for d in days)
    window_alerts = sum(d["window_alerts"] for d in days)
    return {
        "window_min": window_min,
        "detector": {"sensitivity": cfg.sensitivity, "z_on": cfg.z_on, "warmup": cfg.warmup,
                     "cooldown_ms": cfg.cooldown_ms, "escalate": cfg.escalate,
                     "seasonal_bins": cfg.seasonal_bins},
        "faults": len(rows), "detected": sum(r["detected"] for r in rows),
        "detected_ratio": ratio(rows),
        "mean_delay_min": round(float(np.mean(delays)), 2) if delays else None,
        "median_delay_min": round(float(np.median(delays)), 2) if delays else None,
        "faults_after_warmup": len(warm_rows), "detected_ratio_after_warmup": ratio(warm_rows),
        "false_alarms": false_alarms,
        "false_alarms_per_series_hour": round(false_alarms / outside_hours, 4)
        if outside_hours else None,
        "window_alerts": window_alerts,
        "precision_in_windows": round(sum(d["tp_alerts"] for d in days) / window_alerts, 4)
        if window_alerts else None,
        "alerts": sum(d["alerts"] for d in days),
        "series": sum(d["series"] for d in days), "samples": sum(d["samples"] for d in days),
        "per_fault_type": {k: {"faults": len(v), "detected_ratio": ratio(v)}
                           for k, v in sorted(by_type.items())},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--window", type=int, default=5, help="fault window after inject (min)")
    ap.add_argument("--verbose", action="store_true", help="print one line per fault")
    args = ap.parse_args()
    t0 = time.perf_counter()
    figures = summarise(worker_config(), args.window, args.verbose)
    # The StageConfig dataclass's own defaults (warm-up 30) -- what a DetectWorker built
    # in code without settings uses; shown because half the faults fall in the first
    # 100 minutes of the data, inside the settings' warm-up.
    other = summarise(StageConfig(), args.window)
    keys = ("detector", "detected", "detected_ratio", "mean_delay_min",
            "false_alarms_per_series_hour", "precision_in_windows", "per_fault_type")
    figures["stage_dataclass_defaults"] = {k: other[k] for k in keys}
    figures["seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
