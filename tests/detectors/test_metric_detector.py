"""Behaviour of the hot-path MetricDetector: novelty, repeat suppression, no masking."""

from __future__ import annotations

import numpy as np

from streams.detectors.cooldown import suppress_repeats
from streams.detectors.metric import MetricDetector
from streams.detectors.novelty import NoveltyDetector


def _noisy_sine(steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    return 10.0 * np.sin(2 * np.pi * t / 288) + rng.normal(0.0, 1.0, steps)


def _run(det: MetricDetector | NoveltyDetector, values: np.ndarray) -> np.ndarray:
    return np.array([det.update(np.array([v]))[0] for v in values])


def test_spike_after_an_earlier_peak_scores_high() -> None:
    """Regression: a slowly decaying peak used to mask a clear spike ~1,000 samples later."""
    x = _noisy_sine(2000)
    x[900] += 25.0
    x[1300] += 40.0  # 400 samples later: the old decay=0.9995 peak scored this 0
    out = _run(MetricDetector(1), x)
    assert out[900] > 0.9
    assert out[1300] >= 0.5
    normal = np.delete(out[300:], [900 - 300, 1300 - 300])
    assert out[1300] > 3 * normal.max()


def test_echo_is_suppressed_then_released_after_hold() -> None:
    x = _noisy_sine(1500, seed=1)
    x[800:805] += 60.0  # one excursion, five samples long
    out = _run(MetricDetector(1, hold=50), x)
    assert out[800] > 0.9 and out[801:805].max() < out[800]
    # A bigger value later, inside the hold, is still emitted (it beats the peak).
    y = x.copy()
    y[820] += 200.0
    assert _run(MetricDetector(1, hold=50), y)[820] > out[800]


def test_fixed_hold_forgets_the_peak() -> None:
    peak, age = np.zeros(2), np.zeros(2, dtype=np.uint16)
    assert suppress_repeats(np.array([0.99, 0.2]), peak, age, 3).tolist() == [0.99, 0.2]
    for _ in range(2):
        assert suppress_repeats(np.array([0.1, 0.1]), peak, age, 3).tolist() == [0.0, 0.0]
    # Inside the hold only a score above the series' own peak is emitted.
    assert suppress_repeats(np.array([0.5, 0.3]), peak, age, 3).tolist() == [0.0, 0.3]
    # After `hold` quiet samples a weak score is emitted again, whatever the old peak.
    assert suppress_repeats(np.array([0.3, 0.3]), peak, age, 3).tolist() == [0.3, 0.0]
    # Rows marked not ok keep their state and emit nothing.
    before = (peak.copy(), age.copy())
    out = suppress_repeats(np.array([0.9, 0.9]), peak, age, 3, np.array([False, True]))
    assert out.tolist() == [0.0, 0.9]
    assert peak[0] == before[0][0] and age[0] == before[1][0]


def test_unvisited_region_inside_the_range_is_novel() -> None:
    rng = np.random.default_rng(2)
    # Bimodal: values near 0 or near 10, never in between.
    x = np.where(rng.random(1500) < 0.5, 0.0, 10.0) + rng.normal(0.0, 0.1, 1500)
    det = NoveltyDetector(1)
    _run(det, x)
    middle, usual = det.update(np.array([5.0]))[0], det.update(np.array([10.05]))[0]
    assert det.alerts(np.array([middle]))[0] and not det.alerts(np.array([usual]))[0]


def test_codebook_replaces_the_oldest_stored_value() -> None:
    det = NoveltyDetector(1, capacity=4, warmup=0)
    # Range 0..100 (cell 5): 0, 100, 50, 25 fill the codebook; 75 replaces the oldest (0).
    for v in (0.0, 100.0, 50.0, 25.0, 100.0, 50.0, 25.0, 75.0):
        det.update(np.array([v]))
    # Stored as int16 codes in the series' frame: exact to a small fraction of a cell.
    assert np.allclose(np.sort(det.codebook[0]), [25.0, 50.0, 75.0, 100.0], atol=0.05)
    assert det.update_z(np.array([0.0]))[0] >= 0.99 * 25.0 / (0.05 * 100.0)


def test_smoothed_novelty_sees_a_shift_inside_the_noise() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(0.0, 5.0, 3000)
    x[2000:] += 6.0  # the mean moves by ~1 sd: raw values stay inside their usual spread

    def novel_events(det: NoveltyDetector) -> tuple[int, float]:
        z = np.array([det.update_z(np.array([v]))[0] for v in x]) >= 1.0  # > one cell
        return int(z[2000:2200].sum()), float(z[500:2000].sum()) / 7.5  # per 200 samples

    raw_shift, _ = novel_events(NoveltyDetector(1))
    smooth_shift, smooth_usual = novel_events(NoveltyDetector(1, smooth=0.02))
    assert raw_shift <= 1
    # The smoothed mean creeps into values it never had: a burst of novel values.
    assert smooth_shift >= 5 and smooth_shift >= 4 * smooth_usual


def test_independent_series_do_not_interact() -> None:
    x = _noisy_sine(1200, seed=3)
    both = np.column_stack([x, x.copy()])
    both[1000, 1] += 50.0
    det = MetricDetector(2)
    out = np.array([det.update(row) for row in both])
    solo = _run(MetricDetector(1), x)
    np.testing.assert_array_equal(out[:, 0], solo)
    assert out[1000, 1] > 0.9 and out[1000, 0] < 0.5
