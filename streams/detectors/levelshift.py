"""Level-shift detector: fast versus slow EWMA, in units of the noise scale."""

from __future__ import annotations

import numpy as np

from streams.detectors.base import Sensitivity, StreamingDetector


class LevelShiftDetector(StreamingDetector):
    """Two-speed EWMA change statistic.

    ``z = |fast - slow| / (sd * sqrt(a_f / (2 - a_f)))`` where ``sd`` is the EW standard
    deviation of one-step residuals: the fast EWMA of white noise has exactly that
    spread, so ``z`` is a unit-variance statistic that grows with a sustained shift.

    >>> rng = np.random.default_rng(2)
    >>> det = LevelShiftDetector(1, warmup=20)
    >>> for _ in range(300):
    ...     _ = det.update(rng.normal(0.0, 1.0, 1))
    >>> scores = [det.update(rng.normal(3.0, 1.0, 1))[0] for _ in range(10)]
    >>> bool(det.alerts(np.array(scores[-1:]))[0])
    True
    """

    state_fields = ("fast", "slow", "var")
    config_fields = (*StreamingDetector.config_fields, "fast_alpha", "slow_alpha")

    def __init__(self, n_series: int, *, fast_alpha: float = 0.25, slow_alpha: float = 0.01,
                 sensitivity: Sensitivity | str = Sensitivity.MEDIUM, warmup: int = 30) -> None:
        super().__init__(n_series, sensitivity=sensitivity, warmup=warmup)
        self.fast_alpha = float(fast_alpha)
        self.slow_alpha = float(slow_alpha)
        self.fast = np.zeros(self.n_series)
        self.slow = np.zeros(self.n_series)
        self.var = np.zeros(self.n_series)

    def _step(self, x: np.ndarray, ok: np.ndarray, phase: np.ndarray | None) -> np.ndarray:
        first = ok & (self.n_seen == 0)
        fast = np.where(first, x, self.fast)
        slow = np.where(first, x, self.slow)
        r = np.where(ok, x - fast, 0.0)
        sd = np.sqrt(self.var)
        lim = np.where(self.n_seen > 2, 4.0 * sd, np.inf)
        a_v = np.maximum(self.slow_alpha, 1.0 / (self.n_seen + 1.0))
        var = (1.0 - a_v) * (self.var + a_v * np.minimum(r * r, lim * lim))
        fast = fast + self.fast_alpha * r
        slow = slow + a_v * (x - slow)
        spread = np.sqrt(self.fast_alpha / (2.0 - self.fast_alpha))
        z = np.abs(fast - slow) / (spread * sd + 1e-9 + 1e-6 * np.abs(slow))
        self.fast = np.where(ok, fast, self.fast)
        self.slow = np.where(ok, slow, self.slow)
        self.var = np.where(ok, var, self.var)
        return np.where(ok, z, 0.0)
