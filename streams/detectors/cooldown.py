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


def suppress_repeats(score: np.ndarray, peak: np.ndarray, decay: float) -> np.ndarray:
    """Emit ``score`` only where it beats the (decaying) recent peak; update ``peak`` in place.

    Keeps the first (and any stronger) point of an excursion and silences its echo.

    >>> peak = np.zeros(1)
    >>> [float(suppress_repeats(np.array([s]), peak, 0.9)[0]) for s in (0.8, 0.8, 0.3, 0.9)]
    [0.8, 0.0, 0.0, 0.9]
    """
    out = np.where(score > peak, score, 0.0)
    np.maximum(peak * decay, score, out=peak)
    return out
