"""Compact novelty state: int16 codes in per-series frames, rebasing, and old checkpoints."""

from __future__ import annotations

import numpy as np

from streams.detect.subset import SubsetDetector
from streams.detectors.metric import MetricDetector
from streams.detectors.novelty import NoveltyDetector


def _series(steps: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([
        1e9 + rng.normal(0.0, 5.0, steps),  # huge offset, tiny spread
        rng.normal(0.0, 1e-4, steps),  # tiny values around 0
        np.where(rng.random(steps) < 0.5, 0.0, 10.0) + rng.normal(0.0, 0.1, steps),  # bimodal
        np.full(steps, 7.0),  # constant
    ])


def test_state_is_about_half_the_float32_codebook() -> None:
    # Two novelty parts (raw and smoothed) of 24 int16 codes plus frames: <= 160 B/series.
    assert MetricDetector(1000).state_nbytes_per_series() <= 160
    assert NoveltyDetector(1000).state_nbytes_per_series() <= 70


def test_frames_follow_values_across_magnitudes_and_stay_finite() -> None:
    det = NoveltyDetector(3, warmup=0)
    rng = np.random.default_rng(1)
    # Level grows a millionfold, a flat stretch, then values near zero and a NaN gap.
    for t in range(3000):
        v = 10.0 ** (t / 500) * (1 + 0.01 * rng.standard_normal(3))
        v[1] = 5.0 if t < 2000 else 1e-6 * rng.standard_normal()
        v[2] = np.nan if 1000 <= t < 1100 else v[2]
        z = det.update_z(v)
        assert np.all(np.isfinite(z))
    for arr in (det.anchor, det.scale, det.lo, det.hi):
        assert np.all(np.isfinite(arr))
    assert np.all(det.scale > 0)
    assert np.all(np.abs(det.codes) <= 16383)
    # A value seen a moment ago is not novel; one far outside the range is.
    last = det.codebook[np.arange(3), (det.slot.astype(int) - 1) % det.capacity]
    assert det.update_z(last).max() == 0.0
    assert np.all(det.update_z(last * 50.0 + 1.0) > 1.0)


def test_huge_and_missing_inputs_do_not_poison_the_state() -> None:
    det = NoveltyDetector(3, warmup=0, smooth=0.02)
    for row in ([0.0, 1e30, np.nan], [1e300, -1e300, 3.0], [np.nan, 1e-30, 1e30],
                [1.0, 2.0, 3.0]):
        assert np.all(np.isfinite(det.update_z(np.array(row))))
    for arr in (det.anchor, det.scale, det.lo, det.hi, det.smoothed):
        assert np.all(np.isfinite(arr))


def _legacy(state: dict[str, np.ndarray], det: NoveltyDetector) -> dict[str, np.ndarray]:
    """The same state in the layout before int16 frames: float32 values, float64 range."""
    a, s = det.anchor.astype(np.float64), det.scale.astype(np.float64)
    out = {"n_seen": state["n_seen"], "slot": state["slot"],
           "codebook": det.codebook.astype(np.float32),
           "lo": a + det.lo * s, "hi": a + det.hi * s}
    out["smoothed"] = a + det.smoothed * s if det.smooth else np.zeros(0)
    return out


def _novel_agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a > 0) == (b > 0)).mean())


def test_checkpoint_of_the_float32_layout_loads_warm() -> None:
    x = _series(1500, seed=2)
    for smooth in (0.0, 0.02):
        ref = NoveltyDetector(4, warmup=100, smooth=smooth)
        for row in x[:1000]:
            ref.update_z(row)
        old = NoveltyDetector(4, warmup=100, smooth=smooth)
        old.load_state_dict(_legacy(ref.state_dict(), ref))
        za = np.array([ref.update_z(row) for row in x[1000:]])
        zb = np.array([old.update_z(row) for row in x[1000:]])
        # The old layout rounded 1e9 to float32 (steps of 64): near-identical, not exact.
        assert _novel_agreement(za, zb) >= 0.99
        assert np.allclose(za[:, 1:], zb[:, 1:], rtol=0.05, atol=0.05)


def test_worker_state_of_the_float32_layout_loads_warm() -> None:
    """A partition checkpoint written before the change (per-part counters, float32
    codebooks) restores into the subset store and scores like the uninterrupted detector."""
    x = _series(1500, seed=3)
    n = x.shape[1]
    ref = MetricDetector(n, warmup=100)
    for row in x[:1000]:
        ref.update(row)
    state = {k: v for k, v in ref.state_dict().items()}
    legacy = {k: state[k] for k in ("n_seen", "peak", "age")}
    for name, part in ref.parts.items():
        old = _legacy({"n_seen": state["n_seen"], "slot": part.slot}, part)
        if not part.smooth:
            legacy["shared:novelty.smoothed"] = old.pop("smoothed")
        legacy.update({f"{name}.{k}": v for k, v in old.items()})
    sub = SubsetDetector(MetricDetector, {"warmup": 100}, capacity=n)
    sub.load_state_dict(legacy)
    slots = np.arange(n)
    za = np.array([ref.update_z(row) for row in x[1000:]])
    zb = np.array([sub.update(slots, row).z for row in x[1000:]])
    assert _novel_agreement(za, zb) >= 0.99
