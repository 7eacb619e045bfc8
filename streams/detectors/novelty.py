"""Value-novelty detector: distance to the nearest recently seen value, in range units.

Each series keeps a small codebook of values it has seen (``capacity`` float32 slots,
replaced first-in first-out) and a slowly shrinking ``[lo, hi]`` range of its values.  A
sample's evidence is its distance to the nearest codebook value divided by the cell size
``resolution * (hi - lo)``: 0 for a value within one cell of something seen before, > 1
(and large for a value outside the usual range) for a value in a region not visited
lately.  A sample further than one
cell from every slot is stored in place of the oldest stored value.

With ``smooth > 0`` the detector watches an exponentially smoothed copy of the series
instead (weight ``smooth`` on the new sample), which turns slow moves of the local mean
into novel values even when every raw sample stays inside the usual spread.

This is the cheap, vectorised analogue of the "spatial novelty" that makes Numenta's
HTM detector strong on NAB: a value never (or not lately) seen is the anomaly.
"""

from __future__ import annotations

import numpy as np

from streams.detectors.base import Sensitivity, StreamingDetector

EMPTY = np.float32(np.inf)
Z_CAP = 1e6


class NoveltyDetector(StreamingDetector):
    """Per-series codebook novelty; ``z`` is the distance in cells of the value range.

    >>> rng = np.random.default_rng(5)
    >>> det = NoveltyDetector(2, warmup=50)
    >>> for _ in range(300):
    ...     _ = det.update(rng.normal(20.0, 1.0, 2))
    >>> det.alerts(det.update(np.array([20.3, 35.0]))).tolist()
    [False, True]
    """

    state_fields = ("codebook", "slot", "lo", "hi", "smoothed")
    config_fields = (*StreamingDetector.config_fields, "capacity", "resolution", "range_decay",
                     "smooth")

    def __init__(self, n_series: int, *, capacity: int = 24, resolution: float = 0.05,
                 range_decay: float = 1e-4, smooth: float = 0.0,
                 sensitivity: Sensitivity | str = Sensitivity.MEDIUM, warmup: int = 100) -> None:
        super().__init__(n_series, sensitivity=sensitivity, warmup=warmup)
        if not 1 <= capacity <= 256:
            raise ValueError("capacity must be in [1, 256]")
        if not 0.0 < resolution < 1.0:
            raise ValueError("resolution must be in (0, 1)")
        if not 0.0 <= smooth < 1.0:
            raise ValueError("smooth must be in [0, 1)")
        self.capacity = int(capacity)
        self.resolution = float(resolution)
        self.range_decay = float(range_decay)
        self.smooth = float(smooth)
        # Stored slot-major (capacity, n_series): the nearest-slot search then runs over
        # contiguous rows, ~10x faster than a reduction along a short last axis.
        self._slots = np.full((self.capacity, self.n_series), EMPTY, dtype=np.float32)
        self.slot = np.zeros(self.n_series, dtype=np.uint8)  # next slot to overwrite
        self.lo = np.zeros(self.n_series)
        self.hi = np.zeros(self.n_series)
        self.smoothed = np.zeros(self.n_series if self.smooth else 0)

    @property
    def codebook(self) -> np.ndarray:
        """The stored values as ``(n_series, capacity)`` (a view; empty slots are inf)."""
        return self._slots.T

    @codebook.setter
    def codebook(self, value: np.ndarray) -> None:
        self._slots = np.ascontiguousarray(np.asarray(value, dtype=np.float32).T)

    def _nearest(self, xf: np.ndarray) -> np.ndarray:
        """Distance from each series' value to its nearest stored value."""
        d = np.abs(self._slots[0] - xf)
        tmp = np.empty_like(d)
        for row in self._slots[1:]:
            np.subtract(row, xf, out=tmp)
            np.abs(tmp, out=tmp)
            np.minimum(d, tmp, out=d)
        return d.astype(np.float64)

    def _step(self, x: np.ndarray, ok: np.ndarray, phase: np.ndarray | None) -> np.ndarray:
        every = bool(ok.all())
        xv = x if every else np.where(ok, x, 0.0)
        first = ok & (self.n_seen == 0)
        any_first = bool(first.any())
        if self.smooth:
            s = np.where(first, xv, self.smoothed) if any_first else self.smoothed
            xv = s + self.smooth * (xv - s)
            self.smoothed = xv if every else np.where(ok, xv, self.smoothed)
        lo = np.where(first, xv, self.lo) if any_first else self.lo
        hi = np.where(first, xv, self.hi) if any_first else self.hi
        cell = self.resolution * (hi - lo)
        d = self._nearest(xv.astype(np.float32))
        novel = d > cell
        # Within one cell of a stored value is not novel: z is 0 there, else > 1.
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(novel, np.minimum(d / cell, Z_CAP), 0.0)
        if not every:
            z = np.where(ok, z, 0.0)
        new = np.flatnonzero(ok & novel)
        if new.size:
            k = self.slot[new]
            self._slots[k, new] = xv[new].astype(np.float32)
            self.slot[new] = (k.astype(np.int64) + 1) % self.capacity
        # The range follows new extremes at once and otherwise shrinks slowly to its middle.
        hi = np.maximum(hi, xv)
        lo = np.minimum(lo, xv)
        shrink = 0.5 * self.range_decay * (hi - lo)
        hi -= shrink
        lo += shrink
        self.hi = hi if every else np.where(ok, hi, self.hi)
        self.lo = lo if every else np.where(ok, lo, self.lo)
        return z
