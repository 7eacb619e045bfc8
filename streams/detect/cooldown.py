"""Per-series alert hysteresis and cooldown in stream time, so one incident is one record.

A series *fires* when its z reaches ``z_on`` while idle and out of cooldown; it then stays
*active* until z drops below ``z_off``, and fires again only ``cooldown_ms`` after its last
active sample.  ``start_ts`` keeps when the current episode began (the anomaly's start).

An episode far stronger than the one that holds the gate is a new event, not an echo: a
series that is active or cooling down fires again when its z reaches ``escalate`` times
the peak z of that episode (a weak dip cannot hide a hundredfold spike for the next five
minutes).  ``peak`` follows z while the episode is active, so a ramp that climbs sample by
sample stays one episode; 0 turns escalation off.

>>> g = AlertGate(1, z_on=3.0, z_off=1.0, cooldown_ms=10)
>>> s = np.array([0])
>>> [bool(g.step(s, np.array([z]), np.array([t]))[0]) for z, t in
...  ((4, 1), (4, 2), (0, 3), (4, 5), (0, 6), (4, 20))]
[True, False, False, False, False, True]
>>> g = AlertGate(1, z_on=3.0, z_off=1.0, cooldown_ms=10, escalate=10.0)
>>> [bool(g.step(s, np.array([z]), np.array([t]))[0]) for z, t in
...  ((4, 1), (0, 2), (30, 3), (50, 4), (0, 5), (100, 6), (600, 7))]
[True, False, False, True, False, False, True]
"""

from __future__ import annotations

import numpy as np


class AlertGate:
    """Hysteresis/cooldown state per slot: active flag, episode start, quiet-until time and
    the episode's peak z."""

    def __init__(self, capacity: int, *, z_on: float, z_off: float, cooldown_ms: int,
                 escalate: float = 0.0) -> None:
        self.z_on = float(z_on)
        self.z_off = float(z_off)
        self.cooldown_ms = int(cooldown_ms)
        self.escalate = float(escalate)
        self.active = np.zeros(capacity, dtype=bool)
        self.start_ts = np.zeros(capacity, dtype=np.int64)
        self.until_ts = np.zeros(capacity, dtype=np.int64)
        self.peak = np.zeros(capacity, dtype=np.float32)

    def step(self, slots: np.ndarray, z: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Fire flags for distinct ``slots`` with z values at times ``ts``."""
        z = np.nan_to_num(z, nan=0.0)
        active = self.active[slots]
        until = self.until_ts[slots]
        peak = self.peak[slots]
        fire = ~active & (ts >= until) & (z >= self.z_on)
        if self.escalate > 0:
            held = (active | (ts < until)) & (peak > 0)  # 0: no peak known (old checkpoint)
            fire |= held & (z >= self.z_on) & (z >= self.escalate * peak)
        still = np.where(active & ~fire, z >= self.z_off, fire)
        self.active[slots] = still
        self.start_ts[slots] = np.where(fire, ts, self.start_ts[slots])
        self.until_ts[slots] = np.where(still | fire, ts + self.cooldown_ms, until)
        self.peak[slots] = np.where(fire, z, np.where(still, np.maximum(peak, z), peak))
        return fire

    def grow(self, capacity: int) -> None:
        extra = capacity - len(self.active)
        if extra > 0:
            self.active = np.concatenate([self.active, np.zeros(extra, bool)])
            self.start_ts = np.concatenate([self.start_ts, np.zeros(extra, np.int64)])
            self.until_ts = np.concatenate([self.until_ts, np.zeros(extra, np.int64)])
            self.peak = np.concatenate([self.peak, np.zeros(extra, np.float32)])

    def reset(self, slots: np.ndarray) -> None:
        self.active[slots] = False
        self.start_ts[slots] = 0
        self.until_ts[slots] = 0
        self.peak[slots] = 0.0

    def state_dict(self, high: int) -> dict[str, np.ndarray]:
        return {"active": self.active[:high].copy(), "start_ts": self.start_ts[:high].copy(),
                "until_ts": self.until_ts[:high].copy(), "peak": self.peak[:high].copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        n = len(state["active"])
        for k in ("active", "start_ts", "until_ts", "peak"):
            if k in state:  # checkpoints before escalation have no peak (0: none known)
                getattr(self, k)[:n] = state[k]

    def nbytes_per_slot(self) -> float:
        return 21.0
