"""Anomaly shape (SPIKE / DROP / LEVEL_SHIFT / TREND_CHANGE / PATTERN_BREAK) and the band.

The detector says *whether* a sample is anomalous; this module says *how*, from a small
baseline it keeps per slot (float32, 16 bytes): an EWMA level with its mean absolute
deviation (the expected value and band), and a fast and a slow EWMA:

* PATTERN_BREAK: the detector fired although the value is inside the plain band (the
  seasonal profile or the series' own history flagged it, not the magnitude);
* TREND_CHANGE: fast, level and slow are ordered like a ramp: the slow mean lags the
  level far more than the level lags the fast mean (a step gives the opposite ratio);
* LEVEL_SHIFT: the fast mean has moved away from the slow one by at least half of the
  current deviation (the move is sustained, not one sample);
* otherwise SPIKE (above expected) or DROP (below).

>>> b = Baseline(2)
>>> s = np.array([0, 1])
>>> for v in (10.0, 11.0, 9.0, 10.0) * 10:
...     _ = b.update(s, np.array([v, v]))
>>> b.shape(s, np.array([30.0, -5.0]), 2.5)[0].tolist()
['SPIKE', 'DROP']
"""

from __future__ import annotations

import numpy as np

MAD_TO_SIGMA = 1.2533141373155003
A_LEVEL, A_FAST, A_SLOW = 0.05, 0.25, 0.01


class Baseline:
    """Per-slot level, mean absolute deviation, fast and slow means."""

    fields = ("level", "dev", "fast", "slow")

    def __init__(self, capacity: int) -> None:
        for f in self.fields:
            setattr(self, f, np.full(capacity, np.nan, dtype=np.float32))

    def update(self, slots: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fold one sample per distinct slot in; return (expected, sigma) *before* it."""
        level = self.level[slots].astype(np.float64)
        dev = self.dev[slots].astype(np.float64)
        ok = np.isfinite(x)
        new = ok & ~np.isfinite(level)
        level0 = np.where(new, x, level)
        dev0 = np.where(new, 0.0, dev)
        r = np.where(ok, x - level0, 0.0)
        sigma = MAD_TO_SIGMA * dev0
        lim = np.where(dev0 > 0, 4.0 * sigma, np.abs(r))
        rc = np.clip(r, -lim, lim)
        self.level[slots] = np.where(ok, level0 + A_LEVEL * rc, level)
        self.dev[slots] = np.where(ok, dev0 + A_LEVEL * (np.abs(rc) - dev0), dev)
        for name, a in (("fast", A_FAST), ("slow", A_SLOW)):
            cur = getattr(self, name)[slots].astype(np.float64)
            cur0 = np.where(np.isfinite(cur), cur, x)
            getattr(self, name)[slots] = np.where(ok, cur0 + a * (x - cur0), cur)
        return level, MAD_TO_SIGMA * dev

    def shape(self, slots: np.ndarray, x: np.ndarray, z_band: float,
              expected: np.ndarray | None = None, sigma: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(type names, expected, lower, upper) for samples ``x`` already folded in."""
        if expected is None or sigma is None:
            expected = self.level[slots].astype(np.float64)
            sigma = MAD_TO_SIGMA * self.dev[slots].astype(np.float64)
        lower, upper = expected - z_band * sigma, expected + z_band * sigma
        kinds = np.where(x >= expected, "SPIKE", "DROP").astype(object)
        kinds = np.where((x >= lower) & (x <= upper), "PATTERN_BREAK", kinds)
        fast = self.fast[slots].astype(np.float64)
        slow = self.slow[slots].astype(np.float64)
        lvl = self.level[slots].astype(np.float64)
        lag_slow, lag_fast = lvl - slow, fast - lvl
        ordered = (np.sign(lag_slow) == np.sign(lag_fast)) & (np.sign(x - fast) == np.sign(
            lag_fast)) & (lag_fast != 0)
        ramp = ordered & (np.abs(lag_slow) > 2.0 * np.abs(lag_fast))
        sustained = ~ramp & (np.abs(fast - slow) >= 0.5 * np.abs(x - slow)) & (x != slow)
        kinds = np.where(ramp, "TREND_CHANGE", kinds)
        kinds = np.where(sustained, "LEVEL_SHIFT", kinds)
        return kinds, expected, lower, upper

    # -- slots ----------------------------------------------------------------------
    def grow(self, capacity: int) -> None:
        for f in self.fields:
            cur = getattr(self, f)
            if capacity > len(cur):
                extra = np.full(capacity - len(cur), np.nan, dtype=np.float32)
                setattr(self, f, np.concatenate([cur, extra]))

    def reset(self, slots: np.ndarray) -> None:
        for f in self.fields:
            getattr(self, f)[slots] = np.nan

    def state_dict(self, high: int) -> dict[str, np.ndarray]:
        return {f: getattr(self, f)[:high].copy() for f in self.fields}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for f in self.fields:
            getattr(self, f)[: len(state[f])] = state[f]

    def nbytes_per_slot(self) -> float:
        return 4.0 * len(self.fields)
