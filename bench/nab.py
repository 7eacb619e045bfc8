"""Run the streaming MetricDetector over the NAB corpus and score it NAB-style.

Every file is one series; all files are streamed side by side (one ``update`` call per
time step over all series, files that have ended are fed ``NaN``).  The detector sees
only past and present samples and is never told about labels or file lengths.

Usage: ``python bench/nab.py [--seasonal-bins 24]``; the last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.detectors.metric import MetricDetector  # noqa: E402
from streams.evaluation import nab  # noqa: E402

PUBLISHED = [  # (name, standard, reward_low_FP, reward_low_FN) from the NAB scoreboard
    ("ARTime", 74.9, 65.2, 80.4),
    ("Numenta HTM", 70.1, 63.1, 74.3),
    ("CAD OSE", 69.9, 67.0, 73.2),
    ("earthgecko Skyline", 58.2, 46.2, 63.9),
    ("KNN CAD", 58.0, 43.4, 64.8),
    ("Random Cut Forest", 51.7, 38.4, 59.7),
    ("Twitter ADVec", 47.1, 33.6, 53.5),
    ("Windowed Gaussian", 39.6, 20.9, 47.4),
    ("Random", 11.0, 1.2, 19.5),
]


def run_detector(corpus: list[nab.NabFile], **kwargs: object) -> dict[str, np.ndarray]:
    """Stream every file through one vectorised detector (one series per file)."""
    n = len(corpus)
    length = max(len(f.values) for f in corpus)
    values = np.full((length, n), np.nan)
    hours = np.zeros((length, n), dtype=np.int64)
    for j, f in enumerate(corpus):
        values[: len(f.values), j] = f.values
        hours[: len(f.values), j] = (f.timestamps.astype("datetime64[h]").astype(np.int64)) % 24
    det = MetricDetector(n, **kwargs)  # type: ignore[arg-type]
    out = np.zeros((length, n))
    for t in range(length):
        out[t] = det.update(values[t], hours[t])
    return {f.name: out[: len(f.values), j] for j, f in enumerate(corpus)}


def sanity_check(steps: int = 3000, seed: int = 0) -> dict[str, float]:
    """Run the same detector, unchanged, on unlike synthetic series (no labels used)."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    cols = {
        "sine_spike": 10 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 1, steps),
        "counts": rng.poisson(3.0, steps).astype(float),
        "constant": np.full(steps, 7.0),
        "gappy_gpu_util": np.clip(60 + rng.normal(0, 5, steps), 0, 100),
    }
    cols["sine_spike"][2500] += 40.0
    cols["gappy_gpu_util"][1000:1200] = np.nan
    data = np.column_stack(list(cols.values()))
    det = MetricDetector(data.shape[1])
    out = np.array([det.update(row) for row in data])
    assert np.all(np.isfinite(out)) and np.all((out >= 0) & (out <= 1))
    res = {f"max_{k}": round(float(out[300:, j].max()), 3) for j, k in enumerate(cols)}
    res["spike_score"] = round(float(out[2500, 0]), 3)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seasonal-bins", type=int, default=0)
    args = ap.parse_args()
    corpus = nab.load_corpus()
    t0 = time.perf_counter()
    scores = run_detector(corpus, seasonal_bins=args.seasonal_bins)
    elapsed = time.perf_counter() - t0
    res = nab.score_corpus(scores, corpus)
    ours = (res["standard"].score, res["reward_low_FP_rate"].score,
            res["reward_low_FN_rate"].score)
    rows = sorted([*PUBLISHED, ("this repo: MetricDetector", *ours)], key=lambda r: -r[1])
    print(f"{'detector':32s} {'standard':>9s} {'low FP':>9s} {'low FN':>9s}")
    for name, *vals in rows:
        print(f"{name:32s} " + " ".join(f"{v:9.1f}" for v in vals))
    points = sum(len(f.values) for f in corpus)
    print(f"{len(corpus)} files, {points} points, detector wall time {elapsed:.2f}s")
    sanity = sanity_check()
    print(f"sanity (unlabelled synthetic series, same detector): {sanity}")
    print(json.dumps({
        "standard": round(ours[0], 2), "reward_low_fp": round(ours[1], 2),
        "reward_low_fn": round(ours[2], 2),
        "thresholds": {p: r.threshold for p, r in res.items()},
        "files": len(corpus), "points": points, "detector_seconds": round(elapsed, 2),
        "sanity": sanity,
    }))


if __name__ == "__main__":
    main()
