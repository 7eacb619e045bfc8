"""EWMA level/variance detector: z of the one-step-ahead residual."""

from __future__ import annotations

import numpy as np

from streams.detectors.base import Sensitivity, StreamingDetector

SCALE_FLOOR = 1e-9


class EwmaDetector(StreamingDetector):
    """Exponentially weighted level and variance per series.

    The residual is ``x - level``; updates are Huber-clipped at ``clip`` standard
    deviations so a single outlier does not inflate the scale.

    >>> rng = np.random.default_rng(0)
    >>> det = EwmaDetector(2, alpha=0.1, warmup=20)
    >>> for _ in range(50):
    ...     _ = det.update(rng.normal(10.0, 1.0, 2))
    >>> det.alerts(det.update(np.array([10.5, 30.0]))).tolist()
    [False, True]
    """

    state_fields = ("level", "var")
    config_fields = (*StreamingDetector.config_fields, "alpha", "clip")

    def __init__(self, n_series: int, *, alpha: float = 0.05, clip: float = 4.0,
                 sensitivity: Sensitivity | str = Sensitivity.MEDIUM, warmup: int = 30) -> None:
        super().__init__(n_series, sensitivity=sensitivity, warmup=warmup)
        self.alpha = float(alpha)
        self.clip = float(clip)
        self.level = np.zeros(self.n_series)
        self.var = np.zeros(self.n_series)

    def _step(self, x: np.ndarray, ok: np.ndarray, phase: np.ndarray | None) -> np.ndarray:
        first = ok & (self.n_seen == 0)
        xv = np.where(ok, x, self.level)
        self.level = np.where(first, xv, self.level)
        sd = np.sqrt(self.var)
        r = xv - self.level
        z = np.abs(r) / (sd + SCALE_FLOOR + 1e-6 * np.abs(self.level))
        # The running mean of the first samples uses 1/n weights, then alpha.
        a = np.maximum(self.alpha, 1.0 / (self.n_seen + 1.0))
        lim = np.where(self.n_seen > 2, self.clip * sd, np.inf)
        rc = np.clip(r, -lim, lim)
        self.level = np.where(ok, self.level + a * rc, self.level)
        self.var = np.where(ok, (1.0 - a) * (self.var + a * rc * rc), self.var)
        return z
