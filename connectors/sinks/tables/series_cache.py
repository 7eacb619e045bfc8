"""Metric names of known series, addressable by series id with vectorised lookups.

Series ids are stable hashes of (cluster, name, labels), so a series' name never
changes: the sink learns it once (full decode) and builds each batch's ``name``
column with one ``take``. The cache forgets everything when it grows past
``max_series`` or gets older than ``max_age_s``; the sink then re-learns series
(and writes their ``series`` rows again, which keeps those rows inside their TTL).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pyarrow as pa


class SeriesCache:
    """series id -> metric name."""

    def __init__(self, max_series: int = 2_000_000, max_age_s: float = 86_400.0) -> None:
        self.max_series = max_series
        self.max_age_s = max_age_s
        self.clear()

    def clear(self) -> None:
        self.born = time.monotonic()
        self._ids = np.empty(0, dtype=np.int64)
        self._names = pa.array([], pa.string())
        self._sorted_ids = self._ids
        self._order = np.empty(0, dtype=np.int64)
        self._pending: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._ids) + len(self._pending)

    def add(self, ids: Sequence[int], names: Sequence[str]) -> None:
        """Remember series (ids already known are ignored)."""
        for sid, name in zip(ids, names, strict=True):
            self._pending.setdefault(int(sid), name)

    def _absorb(self) -> None:
        if not self._pending:
            return
        new_ids = np.fromiter(self._pending, dtype=np.int64, count=len(self._pending))
        names = list(self._pending.values())
        self._pending = {}
        fresh = self._lookup(new_ids) < 0
        if not fresh.any():
            return
        self._ids = np.concatenate([self._ids, new_ids[fresh]])
        self._names = pa.concat_arrays(
            [self._names, pa.array([n for n, f in zip(names, fresh, strict=True) if f],
                                   pa.string())])
        self._order = np.argsort(self._ids, kind="stable")
        self._sorted_ids = self._ids[self._order]

    def _lookup(self, ids: np.ndarray) -> np.ndarray:
        if not len(self._sorted_ids):
            return np.full(len(ids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._sorted_ids, ids), len(self._sorted_ids) - 1)
        return np.where(self._sorted_ids[at] == ids, self._order[at], -1)

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Cache position of each id, -1 where unknown."""
        self._absorb()
        return self._lookup(ids)

    def missing(self, ids: np.ndarray) -> bool:
        """True when any id is not cached."""
        self._absorb()
        return bool(len(ids)) and bool((self._lookup(ids) < 0).any())

    def names(self, positions: np.ndarray) -> pa.Array:
        """Names at cache positions (all must be >= 0)."""
        return self._names.take(pa.array(positions, pa.int64()))

    def trim(self) -> bool:
        """Forget everything when too big or too old; True when it did."""
        if len(self) > self.max_series or time.monotonic() - self.born > self.max_age_s:
            self.clear()
            return True
        return False
