"""The hot-path per-series metric detector: value novelty plus repeat suppression.

Evidence is the larger of two :class:`~streams.detectors.novelty.NoveltyDetector` z
values (distance to anything seen lately, in cells of 5 % of the series' range): one on
the raw value, one on an exponentially smoothed copy (``smooth``; 0 disables it), and
optionally a per-phase seasonal z.  The echo of an excursion is then suppressed for ``hold``
samples so that one event yields one high score, and a later event scores in full.
"""

from __future__ import annotations

import numpy as np

from streams.detectors.base import Sensitivity, StreamingDetector
from streams.detectors.cooldown import suppress_repeats
from streams.detectors.novelty import NoveltyDetector
from streams.detectors.seasonal import SeasonalDetector


class MetricDetector(StreamingDetector):
    """Vectorised detector; ``update`` returns scores in ``[0, 1]``.

    >>> rng = np.random.default_rng(4)
    >>> det = MetricDetector(3, warmup=50)
    >>> for _ in range(400):
    ...     _ = det.update(rng.normal(100.0, 5.0, 3))
    >>> det.alerts(det.update(np.array([101.0, 160.0, np.nan]))).tolist()
    [False, True, False]
    """

    state_fields = ("peak", "age")
    config_fields = (*StreamingDetector.config_fields, "hold", "capacity", "resolution",
                     "range_decay", "smooth", "seasonal_bins", "relative_range")

    def __init__(self, n_series: int, *, hold: int = 50, capacity: int = 24,
                 resolution: float = 0.05, range_decay: float = 1e-4, smooth: float = 0.02,
                 seasonal_bins: int = 0, relative_range: float = 0.25,
                 sensitivity: Sensitivity | str = Sensitivity.MEDIUM, warmup: int = 100) -> None:
        super().__init__(n_series, sensitivity=sensitivity, warmup=warmup)
        if not 0 <= hold < 65535:
            raise ValueError("hold must be in [0, 65535)")
        self.hold = int(hold)
        self.capacity = int(capacity)
        self.resolution = float(resolution)
        self.range_decay = float(range_decay)
        self.smooth = float(smooth)
        self.seasonal_bins = int(seasonal_bins)
        self.relative_range = float(relative_range)
        kw = {"sensitivity": self.sensitivity, "warmup": 0, "capacity": capacity,
              "resolution": resolution, "range_decay": range_decay,
              "relative_range": self.relative_range}
        self.parts: dict[str, StreamingDetector] = {"novelty": NoveltyDetector(n_series, **kw)}
        if self.smooth:
            self.parts["smoothed"] = NoveltyDetector(n_series, smooth=self.smooth, **kw)
        if self.seasonal_bins:
            self.parts["seasonal"] = SeasonalDetector(n_series, bins=self.seasonal_bins,
                                                      sensitivity=self.sensitivity, warmup=0)
        self.peak = np.zeros(n_series, dtype=np.float32)
        self.age = np.zeros(n_series, dtype=np.uint16)

    def _step(self, x: np.ndarray, ok: np.ndarray, phase: np.ndarray | None) -> np.ndarray:
        z = np.zeros(self.n_series)
        for part in self.parts.values():
            # The parts see exactly the samples this detector sees: they share its counter
            # (which it advances after this step) instead of keeping their own; and this
            # step's range floor.
            part.n_seen = self.n_seen
            part.range_floor = self.range_floor
            try:
                np.maximum(z, np.where(ok, part._step(x, ok, phase), 0.0), out=z)
            finally:
                part.range_floor = None
        warm = ok & (self.n_seen >= self.warmup)
        z = np.where(warm, z, 0.0).astype(np.float32)
        return suppress_repeats(z, self.peak, self.age, self.hold, ok).astype(np.float64)

    def state_dict(self) -> dict[str, np.ndarray]:
        out = super().state_dict()
        for name, part in self.parts.items():
            out.update({f"{name}.{k}": v for k, v in part.state_dict().items() if k != "n_seen"})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        state = self.upgrade_state(state)
        super().load_state_dict(state)
        for name, part in self.parts.items():
            pre = f"{name}."
            part.load_state_dict({"n_seen": self.n_seen, **{
                k[len(pre):]: v for k, v in state.items() if k.startswith(pre)}})

    @classmethod
    def upgrade_state(cls, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Convert a state of an earlier layout (float32 codebooks, per-part counters)."""
        out = dict(state)
        for pre in ("novelty.", "smoothed."):
            old = {k[len(pre):]: v for k, v in state.items() if k.startswith(pre)}
            if "codebook" in old:
                old.setdefault("smoothed", np.zeros(0))
                for k in old:
                    out.pop(pre + k, None)
                new = NoveltyDetector.upgrade_state(old)
                out.update({pre + k: v for k, v in new.items()
                            if k != "n_seen" and (k != "smoothed" or v.size)})
        return out
