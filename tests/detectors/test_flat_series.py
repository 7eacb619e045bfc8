"""Flat and quantised series: evidence proportional to the move, not the 1e6 cap.

A series that sat at one value (a histogram quantile on a bucket bound, a call rate of a
couple of calls per window, a rate at 0) used to have a zero range, so that any move, one
bucket or one call, scored the cap.  The novelty range is now at least a fraction of the
series' level (``relative_range``).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from streams.detectors.metric import MetricDetector
from streams.detectors.novelty import Z_CAP, NoveltyDetector


def _after_flat(level: np.ndarray, new: np.ndarray, **kw: float) -> np.ndarray:
    det = MetricDetector(len(level), warmup=10, **kw)
    for _ in range(200):
        det.update_z(level)
    return det.update_z(new)


def test_one_step_of_a_flat_series_is_bounded_and_grows_with_the_move() -> None:
    # p95 on the 0.1 s bucket bound moving one and two buckets; 1 call per 15 s window
    # becoming 2 and 3; a rate at 0 starting.
    level = np.array([0.1, 0.1, 1 / 15, 1 / 15, 0.0])
    new = np.array([0.25, 0.5, 2 / 15, 3 / 15, 0.2])
    z = _after_flat(level, new)
    assert np.all(z > 20.0) and np.all(z < 1e3)
    assert z[1] > z[0] and z[3] > z[2]
    # Without the floor every one of them was the cap.
    assert np.all(_after_flat(level, new, relative_range=0.0) >= Z_CAP)


def test_a_small_move_of_a_flat_series_is_no_anomaly() -> None:
    z = _after_flat(np.array([60.0, 0.1]), np.array([60.3, 0.1004]))
    assert np.all(z == 0.0)


def test_a_series_wider_than_the_floor_scores_as_before() -> None:
    rng = np.random.default_rng(3)
    x = 100.0 + 40.0 * rng.standard_normal((600, 2))  # range far above 0.25 x level
    x[500] = [400.0, 20.0]
    with_floor, without = MetricDetector(2, warmup=50), MetricDetector(2, warmup=50,
                                                                       relative_range=0.0)
    a = np.array([with_floor.update_z(r) for r in x])
    b = np.array([without.update_z(r) for r in x])
    np.testing.assert_array_equal(a, b)
    assert a[500, 0] > 2.5


def test_relative_range_is_checkpointed_and_validated() -> None:
    det = NoveltyDetector(3, relative_range=0.5)
    again = NoveltyDetector.from_bytes(det.to_bytes())
    assert again.relative_range == 0.5
    # A checkpoint written before the field existed loads with the default.
    old = MetricDetector(2)
    with np.load(io.BytesIO(old.to_bytes())) as npz:
        arrays = {k: npz[k] for k in npz.files}
    cfg = json.loads(arrays["__config__"].tobytes())
    del cfg["relative_range"]
    arrays["__config__"] = np.frombuffer(json.dumps(cfg).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    assert MetricDetector.from_bytes(buf.getvalue()).relative_range == 0.25
    with pytest.raises(ValueError, match="relative_range"):
        NoveltyDetector(1, relative_range=-1.0)
