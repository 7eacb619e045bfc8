"""Vectorised series evaluation: every series of a cluster is one row of a table.

A row says how its value follows the cluster's per-tick *state vector* ``S`` (a flat array of
named quantities such as per-pod CPU cores or per-service request rate):

* ``GAUGE``: ``S[src] * scale + offset``, times ``1 + noise * z`` (z standard normal);
* ``RATE``: a counter that grows by ``max(S[src] * scale + offset, 0) * dt`` (noise on the
  increment, never negative) and restarts from 0 when ``S[reset]`` increases (a restart);
* ``ONEHOT``: ``1`` when ``S[src] == offset`` else ``0`` (kube-state phases, conditions);
* ``BUCKET``: a histogram bucket counter, ``S[src] * dt * P(latency <= le)`` with a log-normal
  latency of median ``S[src2]`` seconds.

One tick evaluates every row with a handful of numpy operations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr

from schemas.series import series_id

GAUGE, RATE, ONEHOT, BUCKET = 0, 1, 2, 3
LATENCY_SIGMA = 0.5


class StateLayout:
    """Named slices of the flat per-tick state vector."""

    def __init__(self) -> None:
        self.offsets: dict[str, int] = {}
        self.sizes: dict[str, int] = {}
        self.total = 0

    def add(self, key: str, size: int) -> None:
        if key in self.offsets:
            raise ValueError(f"state {key!r} declared twice")
        self.offsets[key] = self.total
        self.sizes[key] = size
        self.total += size

    def at(self, key: str, i: int = 0) -> int:
        if not 0 <= i < self.sizes[key]:
            raise IndexError(f"state {key}[{i}] out of range {self.sizes[key]}")
        return self.offsets[key] + i

    def pack(self, arrays: dict[str, np.ndarray | float]) -> np.ndarray:
        """One flat vector from every declared quantity (missing keys are an error)."""
        out = np.empty(self.total, dtype=np.float64)
        for key, off in self.offsets.items():
            out[off:off + self.sizes[key]] = arrays[key]
        return out


@dataclass
class Target:
    """The static columns of one scrape target's MetricBatch."""

    name: str
    rows: np.ndarray
    names: list[str]
    labels: list[dict[str, str]]
    series_ids: list[int]
    types: list[str]
    families: list[tuple[str, str, str]]  # family name, prometheus type, help
    row_family: list[str]


@dataclass
class TableBuilder:
    """Collects rows; ``build`` groups them by target."""

    cluster: str
    rows: list[tuple] = field(default_factory=list)
    helps: dict[str, tuple[str, str]] = field(default_factory=dict)

    def add(self, target: str, name: str, mtype: str, labels: dict[str, str], mode: int,
            src: int, *, scale: float = 1.0, offset: float = 0.0, noise: float = 0.0,
            src2: int = -1, reset: int = -1, le: float = 0.0, family: str | None = None,
            help: str = "") -> None:
        fam = family or name
        if fam not in self.helps:
            self.helps[fam] = (mtype, help or fam.replace("_", " "))
        self.rows.append((target, name, fam, mtype, labels, mode, src, scale, offset, noise,
                          src2, reset, le))

    def build(self) -> SeriesTable:
        order: dict[str, list[int]] = {}
        for i, row in enumerate(self.rows):
            order.setdefault(row[0], []).append(i)
        rows = [self.rows[i] for idxs in order.values() for i in idxs]
        col = list(zip(*rows, strict=True)) if rows else [()] * 13
        table = SeriesTable(
            mode=np.array(col[5], dtype=np.int8), src=np.array(col[6], dtype=np.int64),
            scale=np.array(col[7], dtype=np.float64), offset=np.array(col[8], dtype=np.float64),
            noise=np.array(col[9], dtype=np.float64), src2=np.array(col[10], dtype=np.int64),
            reset=np.array(col[11], dtype=np.int64), le=np.array(col[12], dtype=np.float64),
        )
        start = 0
        for tname, idxs in order.items():
            part = rows[start:start + len(idxs)]
            fams: dict[str, tuple[str, str, str]] = {}
            for r in part:
                mtype, text = self.helps[r[2]]
                fams.setdefault(r[2], (r[2], mtype.lower(), text))
            table.targets.append(Target(
                tname, np.arange(start, start + len(idxs)), [r[1] for r in part],
                [r[4] for r in part], [series_id(self.cluster, r[1], r[4]) for r in part],
                [r[3] for r in part], list(fams.values()), [r[2] for r in part],
            ))
            start += len(idxs)
        return table


@dataclass
class SeriesTable:
    """Every series of a cluster, evaluated together each tick."""

    mode: np.ndarray
    src: np.ndarray
    scale: np.ndarray
    offset: np.ndarray
    noise: np.ndarray
    src2: np.ndarray
    reset: np.ndarray
    le: np.ndarray
    targets: list[Target] = field(default_factory=list)
    acc: np.ndarray | None = None
    prev_reset: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.mode)

    def _increments(self, state: np.ndarray, dt: float, z: np.ndarray) -> np.ndarray:
        rate = state[self.src] * self.scale + self.offset
        inc = np.maximum(rate, 0.0) * dt * np.maximum(1.0 + self.noise * z, 0.0)
        bucket = self.mode == BUCKET
        if bucket.any():
            med = np.maximum(state[self.src2[bucket]], 1e-9)
            with np.errstate(divide="ignore"):
                p = ndtr((np.log(self.le[bucket]) - np.log(med)) / LATENCY_SIGMA)
            inc[bucket] = np.maximum(state[self.src[bucket]], 0.0) * dt * p
        return inc

    def start(self, state: np.ndarray, uptime_s: np.ndarray) -> None:
        """Counters begin as if the process had run for ``uptime_s`` (per series)."""
        self.acc = self._increments(state, 1.0, np.zeros(len(self))) * uptime_s
        self.prev_reset = np.where(self.reset >= 0, state[np.maximum(self.reset, 0)], 0.0)

    def step(self, state: np.ndarray, dt: float, z: np.ndarray) -> np.ndarray:
        """Values of every series for one tick."""
        if self.acc is None or self.prev_reset is None:
            raise RuntimeError("call start() before step()")
        counter = (self.mode == RATE) | (self.mode == BUCKET)
        inc = self._increments(state, dt, z)
        cur_reset = np.where(self.reset >= 0, state[np.maximum(self.reset, 0)], 0.0)
        restarted = cur_reset > self.prev_reset
        self.prev_reset = cur_reset
        self.acc = np.where(counter, np.where(restarted, inc, self.acc + inc), 0.0)
        gauge = (state[self.src] * self.scale + self.offset) * (1.0 + self.noise * z)
        onehot = (state[self.src] == self.offset).astype(np.float64)
        return np.where(counter, self.acc, np.where(self.mode == ONEHOT, onehot, gauge))
