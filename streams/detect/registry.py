"""Series registry: series id -> dense slot index, with growth and stale eviction.

Ids live in one sorted ``int64`` array (looked up with ``np.searchsorted``) beside the slot
of each id; per-slot arrays hold the id, the last sample time and a small ``kind`` code
(what the rules and the histogram stage need to know about the series).  Freed slots are
reused before the slot range grows.

>>> reg = SeriesRegistry(capacity=2)
>>> slots, new = reg.lookup(np.array([7, 9, 7]))
>>> slots.tolist(), new.tolist()
([-1, -1, -1], [7, 9])
>>> reg.add(new, np.zeros(2, np.uint8)).tolist()
[0, 1]
>>> reg.lookup(np.array([9, 7, 5]))[0].tolist()
[1, 0, -1]
"""

from __future__ import annotations

import numpy as np

FREE_ID = np.int64(0)


class SeriesRegistry:
    """Dense slots for the live series of one partition."""

    arrays = ("slot_id", "last_seen", "kind")

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = max(int(capacity), 1)
        self.keys = np.zeros(0, dtype=np.int64)  # sorted live ids
        self.key_slots = np.zeros(0, dtype=np.int32)  # slot of keys[i]
        self.slot_id = np.zeros(self.capacity, dtype=np.int64)
        self.last_seen = np.zeros(self.capacity, dtype=np.int64)  # ms of the last sample
        self.kind = np.zeros(self.capacity, dtype=np.uint8)
        self.used = np.zeros(self.capacity, dtype=bool)
        self.high = 0  # slots [0, high) have been handed out at least once
        self.free: list[int] = []

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(slot per id or -1, the distinct unknown ids, sorted)."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(self.keys) == 0:
            return np.full(len(ids), -1, dtype=np.int32), np.unique(ids)
        pos = np.searchsorted(self.keys, ids)
        pos_c = np.minimum(pos, len(self.keys) - 1)
        hit = self.keys[pos_c] == ids
        slots = np.where(hit, self.key_slots[pos_c], -1).astype(np.int32)
        return slots, np.unique(ids[~hit])

    def add(self, new_ids: np.ndarray, kinds: np.ndarray) -> np.ndarray:
        """Register distinct unknown ids; return their slots (may grow the capacity)."""
        new_ids = np.asarray(new_ids, dtype=np.int64)
        k = len(new_ids)
        reuse = min(k, len(self.free))
        slots = np.empty(k, dtype=np.int32)
        if reuse:
            slots[:reuse] = [self.free.pop() for _ in range(reuse)]
        fresh = k - reuse
        if self.high + fresh > self.capacity:
            self._grow(self.high + fresh)
        slots[reuse:] = np.arange(self.high, self.high + fresh, dtype=np.int32)
        self.high += fresh
        self.slot_id[slots] = new_ids
        self.kind[slots] = kinds
        self.last_seen[slots] = 0
        self.used[slots] = True
        order = np.argsort(new_ids, kind="stable")
        at = np.searchsorted(self.keys, new_ids[order])
        self.keys = np.insert(self.keys, at, new_ids[order])
        self.key_slots = np.insert(self.key_slots, at, slots[order])
        return slots

    def _grow(self, need: int) -> None:
        cap = self.capacity
        while cap < need:
            cap *= 2
        for name in (*self.arrays, "used"):
            old = getattr(self, name)
            new = np.zeros(cap, dtype=old.dtype)
            new[: self.capacity] = old
            setattr(self, name, new)
        self.capacity = cap

    def touch(self, slots: np.ndarray, ts: np.ndarray) -> None:
        """Record the latest sample time of each slot."""
        np.maximum.at(self.last_seen, slots, ts)

    def stale(self, now_ms: int, max_age_ms: int) -> np.ndarray:
        """Live slots whose last sample is older than ``max_age_ms``."""
        live = self.used[: self.high]
        old = self.last_seen[: self.high] < now_ms - max_age_ms
        return np.flatnonzero(live & old).astype(np.int32)

    def evict(self, slots: np.ndarray) -> None:
        """Forget the series at ``slots``; their slots are reused by later series."""
        if len(slots) == 0:
            return
        ids = self.slot_id[slots]
        keep = ~np.isin(self.keys, ids)
        self.keys = self.keys[keep]
        self.key_slots = self.key_slots[keep]
        self.used[slots] = False
        self.slot_id[slots] = FREE_ID
        self.free.extend(int(s) for s in slots)

    # -- checkpointing -------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        h = self.high
        return {"slot_id": self.slot_id[:h].copy(), "last_seen": self.last_seen[:h].copy(),
                "kind": self.kind[:h].copy(), "used": self.used[:h].copy()}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> SeriesRegistry:
        h = len(state["slot_id"])
        reg = cls(capacity=max(1024, h))
        for name in (*cls.arrays, "used"):
            getattr(reg, name)[:h] = state[name]
        reg.high = h
        live = np.flatnonzero(reg.used[:h]).astype(np.int32)
        order = np.argsort(reg.slot_id[live], kind="stable")
        reg.keys = reg.slot_id[live][order]
        reg.key_slots = live[order]
        reg.free = [int(s) for s in np.flatnonzero(~reg.used[:h])]
        return reg

    def nbytes(self) -> int:
        arrays = (self.keys, self.key_slots, self.slot_id, self.last_seen, self.kind, self.used)
        return sum(a.nbytes for a in arrays) + 28 * len(self.free)
