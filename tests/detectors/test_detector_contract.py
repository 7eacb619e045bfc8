"""Contract every vectorised streaming detector must honour."""

from __future__ import annotations

import numpy as np
import pytest

from streams.detectors.base import Sensitivity, StreamingDetector
from streams.detectors.ewma import EwmaDetector
from streams.detectors.levelshift import LevelShiftDetector
from streams.detectors.metric import MetricDetector
from streams.detectors.novelty import NoveltyDetector
from streams.detectors.robust import RobustDetector
from streams.detectors.seasonal import SeasonalDetector

FACTORIES = {
    "ewma": lambda n: EwmaDetector(n, warmup=30),
    "robust": lambda n: RobustDetector(n, warmup=30),
    "levelshift": lambda n: LevelShiftDetector(n, warmup=30),
    "seasonal": lambda n: SeasonalDetector(n, bins=8, warmup=30),
    "novelty": lambda n: NoveltyDetector(n, warmup=30),
    "novelty_smoothed": lambda n: NoveltyDetector(n, smooth=0.05, warmup=30),
    "metric": lambda n: MetricDetector(n, warmup=30),
    "metric_seasonal": lambda n: MetricDetector(n, warmup=30, seasonal_bins=8),
}


@pytest.fixture(params=sorted(FACTORIES))
def make(request: pytest.FixtureRequest):
    return FACTORIES[request.param]


def _noise(n: int, steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 50.0 + rng.normal(0.0, 2.0, (steps, n))


def test_scores_in_unit_interval_and_shape(make) -> None:
    det: StreamingDetector = make(4)
    for row in _noise(4, 200):
        s = det.update(row)
        assert s.shape == (4,) and np.all((s >= 0) & (s <= 1))
    with pytest.raises(ValueError):
        det.update(np.zeros(3))


def test_checkpoint_round_trip_gives_identical_outputs(make) -> None:
    det: StreamingDetector = make(5)
    data = _noise(5, 300, seed=1)
    data[250, 2] = 500.0
    for row in data[:200]:
        det.update(row, np.arange(5))
    restored = type(det).from_bytes(det.to_bytes())
    twin = det.clone()
    fresh = make(5)
    fresh.load_state_dict(det.state_dict())
    for row in data[200:]:
        a = det.update(row, np.arange(5))
        for other in (restored, twin, fresh):
            np.testing.assert_array_equal(a, other.update(row, np.arange(5)))
    assert restored.config() == det.config()


def test_nan_is_missing_and_leaves_state_untouched(make) -> None:
    det: StreamingDetector = make(2)
    for row in _noise(2, 100):
        det.update(row)
    before = det.state_dict()
    s = det.update(np.array([np.nan, np.nan]))
    assert s.tolist() == [0.0, 0.0]
    after = det.state_dict()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=k)
    assert np.all(np.isfinite(det.update(np.array([50.0, np.nan]))))


def test_warmup_suppresses_early_alerts(make) -> None:
    det: StreamingDetector = make(1)
    wild = np.array([1.0, 1000.0, -500.0, 3.0, 7e5] * 6)
    scores = [det.update(np.array([v]))[0] for v in wild[:29]]
    assert max(scores) == 0.0


def test_attributes_mirror_constructor_arguments() -> None:
    det = MetricDetector(3, hold=9, capacity=16, resolution=0.1, range_decay=0.01,
                         smooth=0.1, seasonal_bins=4, sensitivity="high", warmup=7)
    assert (det.n_series, det.hold, det.capacity, det.resolution, det.range_decay,
            det.smooth, det.seasonal_bins) == (3, 9, 16, 0.1, 0.01, 0.1, 4)
    assert det.sensitivity is Sensitivity.HIGH and det.warmup == 7
    assert [s.z for s in Sensitivity] == [3.0, 2.5, 2.0, 1.5]
    assert MetricDetector.from_bytes(det.to_bytes()).config() == det.config()


def test_invalid_arguments_are_rejected() -> None:
    for bad in ({"capacity": 0}, {"capacity": 300}, {"resolution": 0.0},
                {"resolution": 1.5}, {"smooth": -0.1}, {"smooth": 1.0}):
        with pytest.raises(ValueError):
            NoveltyDetector(2, **bad)
    with pytest.raises(ValueError):
        MetricDetector(2, hold=-1)
    with pytest.raises(ValueError):
        MetricDetector(0)


# Per-series state budget: 256 bytes for every default configuration; the optional
# seasonal profile of MetricDetector adds its bins (float32) and scale on top.
STATE_BUDGET = {"metric_seasonal": 256 + 8 * 4 + 16}


def test_state_is_small(make, request: pytest.FixtureRequest) -> None:
    budget = STATE_BUDGET.get(request.node.callspec.params["make"], 256)
    assert make(1000).state_nbytes_per_series() <= budget


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels], scores[~labels]
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


@pytest.mark.parametrize("kind", ["spike", "shift"])
def test_better_than_chance_on_injected_anomaly(make, kind: str,
                                                request: pytest.FixtureRequest) -> None:
    if request.node.callspec.params["make"] == "novelty_smoothed":
        pytest.skip("a smoothed-value detector ignores single samples by design; "
                    "test_metric_detector.py::test_smoothed_novelty_sees_a_shift_inside_the_noise"
                    " covers it")
    n, steps = 8, 600
    data = _noise(n, steps, seed=3)
    if kind == "spike":
        data[400] += 30.0
    else:
        data[400:] += 15.0
    det: StreamingDetector = make(n)
    out = np.array([det.update(row, np.full(n, t % 8)) for t, row in enumerate(data)])
    # An event is one score per series (its best in the first 10 samples): detectors that
    # silence the echo of an excursion score it once, and that must outrank normal points.
    event = out[400:410].max(axis=0)
    normal = out[100:400].ravel()
    score = np.concatenate([event, normal])
    lab = np.concatenate([np.ones(n, dtype=bool), np.zeros(normal.size, dtype=bool)])
    assert _auc(score, lab) > 0.8
    first = out[400]
    assert np.all(first > np.quantile(out[100:390], 0.95))
