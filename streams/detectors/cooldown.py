"""Per-series alert hysteresis, cooldown and repeat suppression (vectorised)."""

from __future__ import annotations

import numpy as np


class AlertGate:
    """Turn per-series z values into alert events with hysteresis and cooldown.

    An alert fires when ``z >= z_on`` while the series is idle and out of cooldown; the
    series then stays *active* (no new alert) until ``z < z_off``, and a further
    ``cooldown`` samples must pass before the next alert.

    >>> gate = AlertGate(1, z_on=3.0, z_off=1.0, cooldown=2)
    >>> [bool(gate.step(np.array([z]))[0]) for z in (4, 4, 0.5, 4, 0.5, 0.5, 4)]
    [True, False, False, False, False, False, True]
    """

    def __init__(self, n_series: int, *, z_on: float, z_off: float | None = None,
                 cooldown: int = 0) -> None:
        self.n_series = int(n_series)
        self.z_on = float(z_on)
        self.z_off = float(z_on if z_off is None else z_off)
        self.cooldown = int(cooldown)
        self.active = np.zeros(self.n_series, dtype=bool)
        self.wait = np.zeros(self.n_series, dtype=np.int32)

    def step(self, z: np.ndarray) -> np.ndarray:
        """Return the boolean alert events for this sample."""
        z = np.nan_to_num(np.asarray(z, dtype=np.float64), nan=0.0)
        fire = (~self.active) & (self.wait <= 0) & (z >= self.z_on)
        self.wait = np.where(self.active | fire, self.cooldown, np.maximum(self.wait - 1, 0))
        self.active = np.where(self.active, z >= self.z_off, fire)
        return fire


def suppress_repeats(score: np.ndarray, peak: np.ndarray, age: np.ndarray,
                     hold: int, ok: np.ndarray | None = None) -> np.ndarray:
    """Emit ``score`` only where it beats the peak emitted in the last ``hold`` samples.

    ``peak`` (largest emitted score) and ``age`` (samples since that emission) are
    updated in place; where ``ok`` is False the state is left untouched.  The first
    point of an excursion (and any stronger one) is kept and its echo silenced for
    ``hold`` samples; then the memory is cleared, so a later event scores in full
    however large the earlier one was.

    >>> peak, age = np.zeros(1), np.zeros(1, dtype=np.uint16)
    >>> [float(suppress_repeats(np.array([s]), peak, age, 2)[0])
    ...  for s in (0.8, 0.8, 0.3, 0.5, 0.9, 0.2, 0.2, 0.4)]
    [0.8, 0.0, 0.0, 0.5, 0.9, 0.0, 0.0, 0.4]
    """
    ok = np.ones(score.shape, dtype=bool) if ok is None else ok
    since = age.astype(np.int64) + 1
    live = np.where(since > hold, 0.0, peak)
    emit = ok & (score > live)
    np.copyto(age, np.where(emit, 0, np.minimum(since, hold + 1)).astype(age.dtype), where=ok)
    np.copyto(peak, np.where(emit, score, live).astype(peak.dtype), where=ok)
    return np.where(emit, score, 0.0)
