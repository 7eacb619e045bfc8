"""Robust location/scale detector: streaming median and mean-absolute-deviation."""

from __future__ import annotations

import numpy as np

from streams.detectors.base import Sensitivity, StreamingDetector

# Mean absolute deviation of a normal variable is sigma * sqrt(2 / pi).
MAD_TO_SIGMA = 1.2533141373155003


class RobustDetector(StreamingDetector):
    """Stochastic-approximation median with a mean-absolute-deviation scale.

    The median moves by ``rate * scale * sign(x - median)`` per sample, so one outlier
    moves it by a bounded amount whatever its size.

    >>> rng = np.random.default_rng(1)
    >>> det = RobustDetector(1, warmup=20)
    >>> for _ in range(200):
    ...     _ = det.update(rng.normal(5.0, 0.5, 1))
    >>> bool(det.alerts(det.update(np.array([50.0])))[0])
    True
    """

    state_fields = ("median", "mad")
    config_fields = (*StreamingDetector.config_fields, "rate")

    def __init__(self, n_series: int, *, rate: float = 0.05,
                 sensitivity: Sensitivity | str = Sensitivity.MEDIUM, warmup: int = 30) -> None:
        super().__init__(n_series, sensitivity=sensitivity, warmup=warmup)
        self.rate = float(rate)
        self.median = np.zeros(self.n_series)
        self.mad = np.zeros(self.n_series)

    def _step(self, x: np.ndarray, ok: np.ndarray, phase: np.ndarray | None) -> np.ndarray:
        first = ok & (self.n_seen == 0)
        med = np.where(first, x, self.median)
        dev = np.where(ok, x - med, 0.0)
        adev = np.abs(dev)
        scale = MAD_TO_SIGMA * self.mad + 1e-9 + 1e-6 * np.abs(med)
        z = adev / scale
        a = np.maximum(self.rate, 1.0 / (self.n_seen + 1.0))
        # Early on the scale is unknown: use the deviation itself as the step size.
        step = np.where(self.n_seen > 2, np.minimum(adev, 3.0 * scale), adev)
        self.median = np.where(ok, med + a * step * np.sign(dev), self.median)
        self.mad = np.where(ok, self.mad + a * (np.minimum(adev, 4.0 * scale) - self.mad),
                            self.mad)
        return z
