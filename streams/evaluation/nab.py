"""Numenta Anomaly Benchmark (NAB v1.0) scoring, reimplemented with numpy.

The method follows NAB's sweeper/optimizer (the code that produced the published
scoreboard):

* the first ``min(floor(0.15 * n), 0.15 * 5000)`` rows of each file are probationary
  and ignored;
* a row inside a label window ``[l, r]`` (width ``w = r - l + 1``) detected at index ``i``
  is worth ``tpWeight * S(-(r - i + 1) / w) / S(-1)``, where ``S`` is the scaled sigmoid
  ``2 * sigmoid(-5 x) - 1`` (``-1`` for ``x >= 3``); only the best (= earliest) detection
  of a window counts and an undetected window costs ``-fnWeight``;
* every detection outside windows costs ``fpWeight * S((i - r_prev) / (w_prev - 1))``
  relative to the closest preceding window, or ``-fpWeight`` when none precedes it;
* one threshold per profile is chosen by sweeping every distinct anomaly score over the
  whole corpus (detections are ``score >= threshold``);
* the corpus total is normalised as ``100 * (raw - null) / (perfect - null)`` with
  ``null = -fnWeight * n_windows`` and ``perfect = tpWeight * n_windows``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROFILES: tuple[str, ...] = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
PROBATION_PERCENT = 0.15
START_THRESHOLD = 1.1  # NAB's sweep starts above every score: nothing detected.


@dataclass(frozen=True)
class CostMatrix:
    """Weights of one NAB application profile."""

    tp: float = 1.0
    fp: float = 0.11
    fn: float = 1.0


STANDARD_PROFILES: dict[str, CostMatrix] = {
    "standard": CostMatrix(1.0, 0.11, 1.0),
    "reward_low_FP_rate": CostMatrix(1.0, 0.22, 1.0),
    "reward_low_FN_rate": CostMatrix(1.0, 0.11, 2.0),
}


@dataclass(frozen=True)
class NabFile:
    """One NAB data file with its label windows as inclusive row-index pairs."""

    name: str
    timestamps: np.ndarray  # datetime64[s]
    values: np.ndarray  # float64
    windows: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ProfileResult:
    """Corpus result of one profile: normalised score, raw total and the threshold."""

    score: float
    raw: float
    threshold: float


def shared_dir() -> Path:
    """``$AIOPS_SHARED_DIR`` or ``<repo>/../shared``."""
    env = os.environ.get("AIOPS_SHARED_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".." / "shared"


def nab_dir() -> Path:
    """Root of the NAB checkout (``data/``, ``labels/``, ``results/``, ``config/``)."""
    return shared_dir() / "eval" / "nab"


def probation_length(n_rows: int, percent: float = PROBATION_PERCENT) -> int:
    """Number of leading rows NAB ignores: ``min(floor(p * n), p * 5000)``."""
    return int(min(math.floor(percent * n_rows), percent * 5000))


def scaled_sigmoid(x: np.ndarray | float) -> np.ndarray:
    """NAB's ``2 * sigmoid(-5 x) - 1``, clamped to ``-1`` for ``x >= 3``.

    >>> [round(float(v), 5) for v in scaled_sigmoid(np.array([-1.0, 0.0, 1.0, 3.0]))]
    [0.98661, 0.0, -0.98661, -1.0]
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        out = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x >= 3.0, -1.0, out)


def load_profiles(path: Path | None = None) -> dict[str, CostMatrix]:
    """Read ``config/profiles.json`` (falls back to the built-in NAB v1.0 weights)."""
    path = path or nab_dir() / "config" / "profiles.json"
    if not path.exists():
        return dict(STANDARD_PROFILES)
    raw = json.loads(path.read_text())
    return {
        name: CostMatrix(c["CostMatrix"]["tpWeight"], c["CostMatrix"]["fpWeight"],
                         c["CostMatrix"]["fnWeight"])
        for name, c in raw.items()
    }


def _read_columns(path: Path, columns: tuple[str, ...]) -> dict[str, list[str]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    return {c: [r[c] for r in rows] for c in columns}


def _to_datetime(stamps: list[str]) -> np.ndarray:
    return np.array([s.strip().replace(" ", "T") for s in stamps], dtype="datetime64[s]")


def window_indices(timestamps: np.ndarray, limits: list[list[str]]) -> tuple[tuple[int, int], ...]:
    """Map ``[start, end]`` timestamp windows to inclusive row-index pairs."""
    out = []
    for start, end in limits:
        lo, hi = _to_datetime([start, end])
        i = int(np.searchsorted(timestamps, lo, side="left"))
        j = int(np.searchsorted(timestamps, hi, side="right")) - 1
        if i > j:
            raise ValueError(f"window {start}..{end} matches no rows")
        out.append((i, j))
    return tuple(out)


def load_corpus(root: Path | None = None) -> list[NabFile]:
    """Load every data file of the corpus with its windows, sorted by name."""
    root = root or nab_dir()
    labels = json.loads((root / "labels" / "combined_windows.json").read_text())
    files = []
    for name in sorted(labels):
        cols = _read_columns(root / "data" / name, ("timestamp", "value"))
        ts = _to_datetime(cols["timestamp"])
        files.append(NabFile(name, ts, np.array(cols["value"], dtype=np.float64),
                             window_indices(ts, labels[name])))
    return files


def load_detector_scores(detector: str, root: Path | None = None) -> dict[str, np.ndarray]:
    """Per-file ``anomaly_score`` columns of a published detector's results."""
    root = root or nab_dir()
    labels = json.loads((root / "labels" / "combined_windows.json").read_text())
    out = {}
    for name in labels:
        cat, base = name.split("/")
        path = root / "results" / detector / cat / f"{detector}_{base}"
        cols = _read_columns(path, ("anomaly_score",))
        out[name] = np.array(cols["anomaly_score"], dtype=np.float64)
    return out


def point_weights(n_rows: int, windows: tuple[tuple[int, int], ...],
                  cost: CostMatrix) -> tuple[np.ndarray, np.ndarray]:
    """Score each row would contribute if detected, and its window id (-1 outside).

    >>> w, wid = point_weights(10, ((4, 6),), CostMatrix(1.0, 0.11, 1.0))
    >>> wid.tolist()
    [-1, -1, -1, -1, 0, 0, 0, -1, -1, -1]
    >>> round(float(w[4]), 6), float(w[0])
    (1.0, -0.11)
    """
    idx = np.arange(n_rows, dtype=np.float64)
    weights = np.full(n_rows, -cost.fp)
    wid = np.full(n_rows, -1, dtype=np.int64)
    max_tp = float(scaled_sigmoid(-1.0))
    for k, (lo, hi) in enumerate(windows):
        width = hi - lo + 1
        sl = slice(lo, hi + 1)
        pos = -(hi - idx[sl] + 1) / width
        weights[sl] = scaled_sigmoid(pos) * cost.tp / max_tp
        wid[sl] = k
        nxt = windows[k + 1][0] if k + 1 < len(windows) else n_rows
        after = slice(hi + 1, nxt)
        if width > 1:
            past = (idx[after] - hi) / (width - 1)
            weights[after] = scaled_sigmoid(past) * cost.fp
        # width 1: NAB divides by zero; treat as "far past the window" (-fpWeight).
    return weights, wid


def score_file(scores: np.ndarray, windows: tuple[tuple[int, int], ...], cost: CostMatrix,
               threshold: float) -> tuple[float, dict[str, int]]:
    """Raw NAB score of one file at ``threshold`` plus tp/tn/fp/fn row counts."""
    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    weights, wid = point_weights(n, windows, cost)
    live = np.arange(n) >= probation_length(n)
    det = live & (scores >= threshold)
    inside = wid >= 0
    total = float(weights[det & ~inside].sum())
    for k in range(len(windows)):
        in_k = live & (wid == k)
        if not in_k.any():
            continue
        hits = det & (wid == k)
        total += float(weights[hits].max()) if hits.any() else -cost.fn
    counts = {
        "tp": int((det & inside).sum()),
        "fp": int((det & ~inside).sum()),
        "fn": int((live & ~det & inside).sum()),
        "tn": int((live & ~det & ~inside).sum()),
    }
    return total, counts


def sweep(files: list[tuple[np.ndarray, tuple[tuple[int, int], ...]]],
          cost: CostMatrix) -> tuple[np.ndarray, np.ndarray]:
    """Corpus score for every candidate threshold (descending), NAB-style.

    Returns ``(thresholds, raw_totals)``; ``thresholds[0]`` is 1.1 (nothing detected).
    """
    all_s, all_w, all_g = [], [], []
    n_windows = 0
    for scores, windows in files:
        n = len(scores)
        weights, wid = point_weights(n, windows, cost)
        keep = slice(probation_length(n), n)
        g = wid[keep]
        all_s.append(np.asarray(scores, dtype=np.float64)[keep])
        all_w.append(weights[keep])
        all_g.append(np.where(g >= 0, g + n_windows, -1))
        n_windows += len(windows)
    s, w, g = np.concatenate(all_s), np.concatenate(all_w), np.concatenate(all_g)
    order = np.argsort(-s, kind="stable")
    s, w, g = s[order], w[order], g[order]
    inc = np.where(g < 0, w, 0.0)
    scored = np.unique(g[g >= 0])
    base = -cost.fn * len(scored)
    for k in scored:
        pos = np.flatnonzero(g == k)
        best = np.maximum.accumulate(np.concatenate(([-cost.fn], w[pos])))
        inc[pos] = np.diff(best)
    totals = base + np.cumsum(inc)
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True))
    return (np.concatenate(([START_THRESHOLD], s[last])),
            np.concatenate(([base], totals[last])))


def normalise(raw: float, n_windows: int, cost: CostMatrix) -> float:
    """``100 * (raw - null) / (perfect - null)`` against the null and perfect detectors."""
    null = -cost.fn * n_windows
    perfect = cost.tp * n_windows
    return 100.0 * (raw - null) / (perfect - null)


def score_corpus(scores: Mapping[str, np.ndarray], corpus: list[NabFile],
                 profiles: Mapping[str, CostMatrix] | None = None,
                 thresholds: Mapping[str, float] | None = None) -> dict[str, ProfileResult]:
    """Score a detector's per-file anomaly scores over the corpus for each profile.

    Thresholds are swept per profile unless given (e.g. NAB's published ones).
    """
    profiles = profiles or STANDARD_PROFILES
    pairs = [(np.asarray(scores[f.name], dtype=np.float64), f.windows) for f in corpus]
    for (s, _), f in zip(pairs, corpus, strict=True):
        if len(s) != len(f.values):
            raise ValueError(f"{f.name}: {len(s)} scores for {len(f.values)} rows")
    n_windows = sum(len(f.windows) for f in corpus)
    out = {}
    for name, cost in profiles.items():
        if thresholds is not None and name in thresholds:
            thr = float(thresholds[name])
            raw = sum(score_file(s, win, cost, thr)[0] for s, win in pairs)
        else:
            ths, totals = sweep(pairs, cost)
            best = int(np.argmax(totals))
            thr, raw = float(ths[best]), float(totals[best])
        out[name] = ProfileResult(normalise(raw, n_windows, cost), raw, thr)
    return out


def published_thresholds(detector: str, root: Path | None = None) -> dict[str, float]:
    """NAB's tuned thresholds for ``detector`` from ``config/thresholds.json``."""
    root = root or nab_dir()
    data = json.loads((root / "config" / "thresholds.json").read_text())
    return {p: float(v["threshold"]) for p, v in data[detector].items()}


def published_scores(root: Path | None = None) -> dict[str, dict[str, float]]:
    """Normalised scores from ``results/final_results.json``."""
    root = root or nab_dir()
    return json.loads((root / "results" / "final_results.json").read_text())
