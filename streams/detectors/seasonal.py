"""Online seasonal-profile detector: residual against a per-phase EWMA profile."""

from __future__ import annotations

import numpy as np

from streams.detectors.base import Sensitivity, StreamingDetector


class SeasonalDetector(StreamingDetector):
    """Per-series profile of ``bins`` phases (float32) plus a residual scale.

    ``phase`` (e.g. hour of day) is passed to :meth:`update`; without it the phase is
    the series' own sample counter modulo ``bins``.  A phase scores 0 until it has been
    seen once.

    >>> rng = np.random.default_rng(3)
    >>> det = SeasonalDetector(1, bins=4, warmup=8)
    >>> for t in range(400):
    ...     _ = det.update(np.array([10.0 * (t % 4) + rng.normal()]), np.array([t % 4]))
    >>> bool(det.alerts(det.update(np.array([20.0]), np.array([0])))[0])
    True
    """

    state_fields = ("profile", "seen", "var")
    config_fields = (*StreamingDetector.config_fields, "bins", "alpha")

    def __init__(self, n_series: int, *, bins: int = 24, alpha: float = 0.1,
                 sensitivity: Sensitivity | str = Sensitivity.MEDIUM, warmup: int = 30) -> None:
        super().__init__(n_series, sensitivity=sensitivity, warmup=warmup)
        if not 1 <= bins <= 32:
            raise ValueError("bins must be in [1, 32]")
        self.bins = int(bins)
        self.alpha = float(alpha)
        self.profile = np.zeros((self.n_series, self.bins), dtype=np.float32)
        self.seen = np.zeros(self.n_series, dtype=np.uint32)
        self.var = np.zeros(self.n_series)

    def _step(self, x: np.ndarray, ok: np.ndarray, phase: np.ndarray | None) -> np.ndarray:
        rows = np.arange(self.n_series)
        b = (self.n_seen if phase is None else np.asarray(phase)).astype(np.int64) % self.bins
        bit = np.left_shift(np.uint32(1), b.astype(np.uint32))
        known = (self.seen & bit) != 0
        ref = self.profile[rows, b].astype(np.float64)
        r = np.where(ok & known, x - ref, 0.0)
        sd = np.sqrt(self.var)
        z = np.abs(r) / (sd + 1e-9 + 1e-6 * np.abs(ref))
        lim = np.where(self.n_seen > self.bins, 4.0 * sd, np.inf)
        rc = np.clip(r, -lim, lim)
        a_v = np.maximum(0.02, 1.0 / (self.n_seen + 1.0))
        self.var = np.where(ok & known, (1.0 - a_v) * (self.var + a_v * rc * rc), self.var)
        new = np.where(known, ref + self.alpha * rc, x)
        self.profile[rows, b] = np.where(ok, new, ref).astype(np.float32)
        self.seen = np.where(ok, self.seen | bit, self.seen).astype(np.uint32)
        return z
