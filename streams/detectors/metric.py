"""The hot-path per-series metric detector: an ensemble of the streaming statistics.

Raw evidence is the largest z of the EWMA, robust (median/MAD), level-shift and
(optionally) seasonal detectors.  It is then compared with the series' own long-run
distribution of that evidence (an "anomaly likelihood"): a series that is always noisy
stops alerting on its usual noise.  Finally the echo of an excursion is suppressed so
that one event yields one high score.
"""

from __future__ import annotations

import numpy as np

from streams.detectors.base import Sensitivity, StreamingDetector, z_to_score
from streams.detectors.cooldown import suppress_repeats
from streams.detectors.ewma import EwmaDetector
from streams.detectors.levelshift import LevelShiftDetector
from streams.detectors.robust import RobustDetector
from streams.detectors.seasonal import SeasonalDetector


class MetricDetector(StreamingDetector):
    """Vectorised ensemble detector; ``update`` returns scores in ``[0, 1]``.

    >>> rng = np.random.default_rng(4)
    >>> det = MetricDetector(3, warmup=50)
    >>> for _ in range(400):
    ...     _ = det.update(rng.normal(100.0, 5.0, 3))
    >>> det.alerts(det.update(np.array([101.0, 160.0, np.nan]))).tolist()
    [False, True, False]
    """

    state_fields = ("ev_ms", "peak")
    config_fields = (*StreamingDetector.config_fields, "alpha", "long_alpha", "decay",
                     "seasonal_bins")

    def __init__(self, n_series: int, *, alpha: float = 0.05, long_alpha: float = 0.005,
                 decay: float = 0.9995, seasonal_bins: int = 0,
                 sensitivity: Sensitivity | str = Sensitivity.MEDIUM, warmup: int = 100) -> None:
        super().__init__(n_series, sensitivity=sensitivity, warmup=warmup)
        self.alpha = float(alpha)
        self.long_alpha = float(long_alpha)
        self.decay = float(decay)
        self.seasonal_bins = int(seasonal_bins)
        kw = {"sensitivity": self.sensitivity, "warmup": 10}
        self.parts: dict[str, StreamingDetector] = {
            "ewma": EwmaDetector(n_series, alpha=alpha, **kw),
            "robust": RobustDetector(n_series, rate=alpha, **kw),
            "shift": LevelShiftDetector(n_series, slow_alpha=alpha / 5.0, **kw),
        }
        if self.seasonal_bins:
            self.parts["seasonal"] = SeasonalDetector(n_series, bins=self.seasonal_bins, **kw)
        self.ev_ms = np.zeros(n_series)
        self.peak = np.zeros(n_series)

    def _step(self, x: np.ndarray, ok: np.ndarray, phase: np.ndarray | None) -> np.ndarray:
        ev = np.zeros(self.n_series)
        for part in self.parts.values():
            np.maximum(ev, part.update_z(x, phase), out=ev)
        ev = np.minimum(ev, 100.0)
        a = np.maximum(self.long_alpha, 1.0 / (self.n_seen + 1.0))
        rms = np.sqrt(self.ev_ms) + 0.1
        excess = ev / rms
        capped = np.minimum(ev, 3.0 * rms)
        self.ev_ms = np.where(ok, self.ev_ms + a * (capped * capped - self.ev_ms), self.ev_ms)
        warm = ok & (self.n_seen >= self.warmup)
        z = np.where(warm, excess, 0.0)
        old_peak = self.peak.copy()
        score = suppress_repeats(z_to_score(z, self.sensitivity.z), self.peak, self.decay)
        self.peak = np.where(ok, self.peak, old_peak)
        # Report z consistent with the suppressed score: invert z_to_score.
        s = np.minimum(score, 1.0 - 1e-12)
        return self.sensitivity.z * np.sqrt(s / (1.0 - s))

    def state_dict(self) -> dict[str, np.ndarray]:
        out = super().state_dict()
        for name, part in self.parts.items():
            out.update({f"{name}.{k}": v for k, v in part.state_dict().items()})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        for name, part in self.parts.items():
            pre = f"{name}."
            part.load_state_dict({k[len(pre):]: v for k, v in state.items() if k.startswith(pre)})
