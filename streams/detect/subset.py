"""Run a vectorised detector on a subset of series: gather state, update, scatter back.

The detectors in ``streams.detectors`` own ``n_series`` rows and update all of them per
call.  A partition holds up to millions of series but a poll batch touches a few
thousand, so the full state lives here in plain arrays keyed like the detector's
``state_dict()`` and each batch runs a detector built for exactly the touched rows.  This is
generic over whatever ``state_dict`` contains, so detector internals can change freely.

>>> from streams.detectors import EwmaDetector
>>> sub = SubsetDetector(EwmaDetector, {"alpha": 0.5, "warmup": 1}, capacity=4)
>>> for v in (1.0, 1.1, 0.9, 1.0):
...     _ = sub.update(np.array([2]), np.array([v]))
>>> float(sub.update(np.array([2]), np.array([50.0])).z[0]) > 10
True
>>> float(sub.store["level"][0]), bool(sub.store["level"][2] > 1.0)
(0.0, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.detectors.base import StreamingDetector


@dataclass
class SubsetResult:
    """Raw z per row and the rows' state *before* the update (for classification)."""

    z: np.ndarray
    before: dict[str, np.ndarray]
    after: dict[str, np.ndarray]


class SubsetDetector:
    """A detector class and config, with per-slot state for ``capacity`` slots."""

    def __init__(self, cls: type[StreamingDetector], config: dict[str, Any],
                 capacity: int) -> None:
        self.cls = cls
        self.config = {k: v for k, v in config.items() if k != "n_series"}
        self.capacity = int(capacity)
        template = cls(1, **self.config).state_dict()
        two = cls(2, **self.config).state_dict()
        # Per-series arrays scale with n_series; anything else (e.g. an empty placeholder
        # for a disabled part) is kept whole and passed through unchanged.
        self.shared = {k: v.copy() for k, v in template.items()
                       if v.ndim == 0 or two[k].shape[:1] != (2 * v.shape[0],) or v.shape[0] != 1}
        template = {k: v for k, v in template.items() if k not in self.shared}
        self.initial = {k: v[0].copy() for k, v in template.items()}
        self.store = {k: np.repeat(v, self.capacity, axis=0) for k, v in template.items()}

    def update(self, slots: np.ndarray, values: np.ndarray, phase: np.ndarray | None = None,
               range_floor: np.ndarray | None = None) -> SubsetResult:
        """One sample for each of the distinct ``slots``; return z and state before/after
        (``range_floor``: the rows' smallest value range, see ``StreamingDetector``)."""
        det = self.cls(len(slots), **self.config)
        before = {k: arr[slots] for k, arr in self.store.items()}
        det.load_state_dict({**self.shared, **before})
        z = det.update_z(values, phase, range_floor)
        after = det.state_dict()
        for k, arr in after.items():
            if k in self.shared:
                self.shared[k] = arr
            else:
                self.store[k][slots] = arr
        return SubsetResult(z, before, after)

    def grow(self, capacity: int) -> None:
        """Enlarge every state array to ``capacity`` rows (new rows start fresh)."""
        if capacity <= self.capacity:
            return
        for k, arr in self.store.items():
            extra = np.repeat(self.initial[k][None, ...], capacity - self.capacity, axis=0)
            self.store[k] = np.concatenate([arr, extra.astype(arr.dtype)])
        self.capacity = capacity

    def reset(self, slots: np.ndarray) -> None:
        """Return ``slots`` to the fresh state (the series was evicted)."""
        for k, arr in self.store.items():
            arr[slots] = self.initial[k]

    def nbytes_per_slot(self) -> float:
        return sum(a.nbytes for a in self.store.values()) / self.capacity

    def state_dict(self, high: int) -> dict[str, np.ndarray]:
        out = {k: v[:high].copy() for k, v in self.store.items()}
        out.update({f"shared:{k}": v.copy() for k, v in self.shared.items()})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        state = self.cls.upgrade_state(state)  # a checkpoint of an earlier detector layout
        for k, arr in self.store.items():
            new = np.asarray(state[k], dtype=arr.dtype)
            arr[: len(new)] = new
        for k in self.shared:
            if f"shared:{k}" in state:
                self.shared[k] = np.asarray(state[f"shared:{k}"])
