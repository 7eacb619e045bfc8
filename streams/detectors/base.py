"""Small interface shared by the vectorised streaming detectors.

A detector owns the state of ``n_series`` independent series in plain numpy arrays and
consumes one sample per series per :meth:`StreamingDetector.update` call.  Missing samples
are ``NaN``: they leave the series' state untouched and score 0.
"""

from __future__ import annotations

import copy
import io
import json
from abc import ABC, abstractmethod
from enum import Enum
from typing import Any, ClassVar, Self

import numpy as np


class Sensitivity(Enum):
    """Alerting sensitivity; the value is the z threshold an alert needs."""

    LOW = 3.0
    MEDIUM = 2.5
    HIGH = 2.0
    EXTREME = 1.5

    @property
    def z(self) -> float:
        return float(self.value)


def z_to_score(z: np.ndarray, z_ref: float) -> np.ndarray:
    """Map ``z >= 0`` monotonically onto ``[0, 1)``; ``z_ref`` maps to 0.5.

    >>> z_to_score(np.array([0.0, 2.5, np.inf]), 2.5).tolist()
    [0.0, 0.5, 1.0]
    """
    z2 = np.square(np.minimum(z, 1e150))
    return z2 / (z2 + z_ref * z_ref)


class StreamingDetector(ABC):
    """Base class: NaN handling, warm-up, alert threshold and checkpointing.

    Subclasses list their per-series state arrays in ``state_fields`` and their
    constructor arguments in ``config_fields`` and implement :meth:`_step`.
    """

    state_fields: ClassVar[tuple[str, ...]] = ()
    config_fields: ClassVar[tuple[str, ...]] = ("n_series", "sensitivity", "warmup")
    #: Per-call input, not state: the smallest value range each series is taken to span
    #: (value units, 0 for none), e.g. a fraction of the domain of a bounded ratio.  Set by
    #: :meth:`update_z` for the duration of one step; detectors whose evidence is relative
    #: to a learnt range (novelty) honour it, the others ignore it.
    range_floor: np.ndarray | None = None

    def __init__(self, n_series: int, *, sensitivity: Sensitivity | str = Sensitivity.MEDIUM,
                 warmup: int = 30) -> None:
        if n_series < 1:
            raise ValueError("n_series must be >= 1")
        self.n_series = int(n_series)
        self.sensitivity = (sensitivity if isinstance(sensitivity, Sensitivity)
                            else Sensitivity[str(sensitivity).upper()])
        self.warmup = int(warmup)
        self.n_seen = np.zeros(self.n_series, dtype=np.uint32)

    # -- per-sample processing -------------------------------------------------------
    @abstractmethod
    def _step(self, x: np.ndarray, ok: np.ndarray, phase: np.ndarray | None) -> np.ndarray:
        """Return raw z (>= 0) for every series; update state only where ``ok``."""

    def update(self, values: np.ndarray, phase: np.ndarray | None = None,
               range_floor: np.ndarray | None = None) -> np.ndarray:
        """Consume one sample per series; return anomaly scores in ``[0, 1]``.

        ``phase`` is an optional per-series integer (e.g. hour of day) used by seasonal
        detectors; ``range_floor`` optional per-series smallest range (see
        :attr:`range_floor`).  Scores are 0 for missing samples and during warm-up.
        """
        return z_to_score(self.update_z(values, phase, range_floor), self.sensitivity.z)

    def update_z(self, values: np.ndarray, phase: np.ndarray | None = None,
                 range_floor: np.ndarray | None = None) -> np.ndarray:
        """Like :meth:`update` but return the raw z (0 when missing or warming up)."""
        x = np.asarray(values, dtype=np.float64)
        if x.shape != (self.n_series,):
            raise ValueError(f"expected shape ({self.n_series},), got {x.shape}")
        ok = np.isfinite(x)
        warm = ok & (self.n_seen >= self.warmup)
        self.range_floor = None if range_floor is None else np.asarray(range_floor, np.float64)
        try:
            z = self._step(x, ok, phase)
        finally:
            self.range_floor = None
        self.n_seen += ok.astype(np.uint32)
        return np.where(warm, z, 0.0)

    def alerts(self, scores: np.ndarray) -> np.ndarray:
        """Alert flags for scores returned by :meth:`update` at the configured sensitivity."""
        return np.asarray(scores) >= 0.5

    # -- checkpointing ----------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        cfg = {k: getattr(self, k) for k in self.config_fields}
        return {k: (v.name if isinstance(v, Enum) else v) for k, v in cfg.items()}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every per-series state array (including the sample counter)."""
        return {k: getattr(self, k).copy() for k in ("n_seen", *self.state_fields)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        state = self.upgrade_state(state)
        for k in ("n_seen", *self.state_fields):
            cur = getattr(self, k)
            new = np.asarray(state[k], dtype=cur.dtype)
            if new.shape != cur.shape:
                raise ValueError(f"{k}: shape {new.shape} != {cur.shape}")
            setattr(self, k, new.copy())

    @classmethod
    def upgrade_state(cls, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A state saved by an earlier layout of this class, in the current layout (the
        default: unchanged).  Checkpoints written before an upgrade then load warm."""
        return state

    def to_bytes(self) -> bytes:
        """Serialise config and state (``np.savez``, no pickle)."""
        buf = io.BytesIO()
        cfg = np.frombuffer(json.dumps(self.config()).encode(), dtype=np.uint8)
        np.savez(buf, __config__=cfg, **self.state_dict())
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            cfg = json.loads(npz["__config__"].tobytes().decode())
            det = cls(**cfg)
            det.load_state_dict({k: npz[k] for k in npz.files if k != "__config__"})
        return det

    def clone(self) -> Self:
        return copy.deepcopy(self)

    def state_nbytes_per_series(self) -> float:
        """Bytes of per-series state (all state arrays divided by ``n_series``)."""
        total = sum(v.nbytes for v in self.state_dict().values())
        return total / self.n_series
