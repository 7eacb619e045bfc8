"""Counters to per-second rates, with counter-reset handling (Prometheus ``rate`` semantics).

A counter that goes down was reset (process restart): the new value is the increase since
the reset.  The first sample of a series, a missing value or a non-advancing timestamp
yields NaN (no rate), which the detectors treat as a missing sample.

>>> cr = CounterRates(capacity=1)
>>> s = np.array([0])
>>> [float(cr.rate(s, np.array([v]), np.array([t]))[0])
...  for v, t in ((10, 1000), (30, 3000), (5, 4000))]
[nan, 10.0, 5.0]
"""

from __future__ import annotations

import numpy as np


class CounterRates:
    """Previous value and time per slot."""

    def __init__(self, capacity: int) -> None:
        self.prev = np.full(capacity, np.nan)
        self.prev_ts = np.zeros(capacity, dtype=np.int64)

    def rate(self, slots: np.ndarray, values: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Per-second increase for distinct ``slots``; updates the stored previous sample."""
        prev = self.prev[slots]
        dt = (ts - self.prev_ts[slots]) / 1000.0
        ok = np.isfinite(values)
        have = ok & np.isfinite(prev) & (dt > 0)
        inc = np.where(values >= prev, values - prev, values)  # reset: counted from 0
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(have, inc / np.where(dt > 0, dt, 1.0), np.nan)
        advance = ok & ((dt > 0) | ~np.isfinite(prev))
        self.prev[slots] = np.where(advance, values, prev)
        self.prev_ts[slots] = np.where(advance, ts, self.prev_ts[slots])
        return out

    def grow(self, capacity: int) -> None:
        extra = capacity - len(self.prev)
        if extra > 0:
            self.prev = np.concatenate([self.prev, np.full(extra, np.nan)])
            self.prev_ts = np.concatenate([self.prev_ts, np.zeros(extra, np.int64)])

    def reset(self, slots: np.ndarray) -> None:
        self.prev[slots] = np.nan
        self.prev_ts[slots] = 0

    def state_dict(self, high: int) -> dict[str, np.ndarray]:
        return {"prev": self.prev[:high].copy(), "prev_ts": self.prev_ts[:high].copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        n = len(state["prev"])
        self.prev[:n] = state["prev"]
        self.prev_ts[:n] = state["prev_ts"]

    def nbytes_per_slot(self) -> float:
        return (self.prev.nbytes + self.prev_ts.nbytes) / len(self.prev)
