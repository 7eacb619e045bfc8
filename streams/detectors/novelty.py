"""Value-novelty detector: distance to the nearest recently seen value, in range units.

Each series keeps a small codebook of values it has seen (``capacity`` slots, replaced
first-in first-out) and a slowly shrinking ``[lo, hi]`` range of its values.  A sample's
evidence is its distance to the nearest codebook value divided by the cell size
``resolution * (hi - lo)``: 0 for a value within one cell of something seen before, > 1
(and large for a value outside the usual range) for a value in a region not visited
lately.  A sample further than one cell from every slot is stored in place of the oldest
stored value.

The range is taken to be at least ``relative_range`` (default 0.25) times the series'
level (``|anchor|``, the centre of its frame before the sample): a series flat at one
value, or quantised to a few (a histogram quantile at a bucket bound, a call rate of a few
calls per window), is not infinitely surprised by its next step, where a zero range gave
the ``Z_CAP`` of 1e6 to any move, however small.  A move by a fraction ``f`` of the level
scores ``f / (resolution * relative_range)`` cells: z 8 for +10 %, 80 for a doubling or a
drop to 0, 720 for 10x.  A series flat at 0 has no level; its first move is scaled by the
frame it moves into (centred halfway), z 160 whatever its size: a change of state.  A
series whose range is wider than the floor is unaffected.

A per-call ``range_floor`` (value units, see
:attr:`~streams.detectors.base.StreamingDetector.range_floor`) does the same for series
whose level says nothing about their scale (a clean service's error ratio flat at 0): the
cell is at least ``resolution * range_floor``.

With ``smooth > 0`` the detector watches an exponentially smoothed copy of the series
instead (weight ``smooth`` on the new sample), which turns slow moves of the local mean
into novel values even when every raw sample stays inside the usual spread.

State is compact (65 bytes per series at the default capacity, 69 with ``smooth``):
every value is kept in the series' own *frame* ``u = (x - anchor) / scale`` (``anchor``
and ``scale`` float32).  A new frame is chosen (*rebased*) when a value leaves
``[-2, 2]`` or the range narrows below 0.25; it puts the range at ``[-0.25, 0.25]``.  The
codebook holds int16 codes ``round(u * 8192)`` within +-2 frame units, so a cell
(``resolution`` times a range of at least 0.25) is at least 100 codes wide; the range and
the smoothed value are float32 in frame units.  Novelty is invariant to the frame, so a
rebase changes nothing but rounding (NAB scores are unchanged); a stored value that falls
outside +-2 units of a new frame (8 half-ranges from its centre) is forgotten.

This is the cheap, vectorised analogue of the "spatial novelty" that makes Numenta's
HTM detector strong on NAB: a value never (or not lately) seen is the anomaly.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from streams.detectors.base import Sensitivity, StreamingDetector

Z_CAP = 1e6
QUANTA = 8192.0  # codes per frame unit
CODE_MAX = 16383  # codes span +-CODE_MAX / QUANTA frame units
VALUE_MAX = 1e30  # inputs are clipped to +-VALUE_MAX (float32 anchors stay finite)
SCALE_MIN = 1e-30
FIRST_SCALE = 2.0 ** -12  # frame of a series seen once: anchor +- |anchor| / 4096
FRAME_EDGE = 2.0  # a new frame when a value or the range leaves [-2, 2] (frame units) ...
FRAME_MIN_WIDTH = 0.25  # ... or the range shrinks below this
FRAME_WIDTH = 0.5  # the width of the range in a new frame (centred on 0)


class NoveltyDetector(StreamingDetector):
    """Per-series codebook novelty; ``z`` is the distance in cells of the value range.

    >>> rng = np.random.default_rng(5)
    >>> det = NoveltyDetector(2, warmup=50)
    >>> for _ in range(300):
    ...     _ = det.update(rng.normal(20.0, 1.0, 2))
    >>> det.alerts(det.update(np.array([20.3, 35.0]))).tolist()
    [False, True]
    """

    state_fields = ("codes", "slot", "anchor", "scale", "lo", "hi", "smoothed")
    config_fields = (*StreamingDetector.config_fields, "capacity", "resolution", "range_decay",
                     "smooth", "relative_range")
    _f32: ClassVar[tuple[str, ...]] = ("anchor", "scale", "lo", "hi")

    def __init__(self, n_series: int, *, capacity: int = 24, resolution: float = 0.05,
                 range_decay: float = 1e-4, smooth: float = 0.0, relative_range: float = 0.25,
                 sensitivity: Sensitivity | str = Sensitivity.MEDIUM, warmup: int = 100) -> None:
        super().__init__(n_series, sensitivity=sensitivity, warmup=warmup)
        if not 1 <= capacity <= 256:
            raise ValueError("capacity must be in [1, 256]")
        if not 0.0 < resolution < 1.0:
            raise ValueError("resolution must be in (0, 1)")
        if not 0.0 <= smooth < 1.0:
            raise ValueError("smooth must be in [0, 1)")
        if not relative_range >= 0.0:
            raise ValueError("relative_range must be >= 0")
        self.capacity = int(capacity)
        self.resolution = float(resolution)
        self.range_decay = float(range_decay)
        self.smooth = float(smooth)
        self.relative_range = float(relative_range)
        # Stored slot-major (capacity, n_series): the nearest-slot search then runs over
        # contiguous rows, ~10x faster than a reduction along a short last axis.
        self._codes = np.zeros((self.capacity, self.n_series), dtype=np.int16)
        self.slot = np.zeros(self.n_series, dtype=np.uint8)  # next slot to overwrite
        for name in self._f32:
            setattr(self, name, np.zeros(self.n_series, dtype=np.float32))
        self.scale[:] = 1.0
        self.smoothed = np.zeros(self.n_series if self.smooth else 0, dtype=np.float32)

    @property
    def codes(self) -> np.ndarray:
        """The stored codes as ``(n_series, capacity)`` (a view)."""
        return self._codes.T

    @codes.setter
    def codes(self, value: np.ndarray) -> None:
        self._codes = np.ascontiguousarray(np.asarray(value, dtype=np.int16).T)

    @property
    def codebook(self) -> np.ndarray:
        """The stored values, decoded, as ``(n_series, capacity)`` (for inspection)."""
        u = self.codes.astype(np.float64) / QUANTA
        return self.anchor[:, None] + u * self.scale.astype(np.float64)[:, None]

    @classmethod
    def upgrade_state(cls, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The earlier layout (float32 ``codebook`` of values, inf when empty; float64
        ``lo``/``hi``/``smoothed``) in frames: the range becomes ``[-0.25, 0.25]``."""
        if "codebook" not in state:
            return state
        out = {k: v for k, v in state.items() if k != "codebook"}
        lo, hi = (np.asarray(state[k], dtype=np.float64) for k in ("lo", "hi"))
        book = np.asarray(state["codebook"], dtype=np.float64)
        anchor = (0.5 * (lo + hi)).astype(np.float32)
        scale = np.maximum((hi - lo) / FRAME_WIDTH, np.abs(anchor) * FIRST_SCALE)
        scale = np.clip(scale, SCALE_MIN, VALUE_MAX).astype(np.float32)

        def frame(v: np.ndarray) -> np.ndarray:
            return (v - anchor.reshape(-1, *[1] * (v.ndim - 1))) / scale.reshape(
                -1, *[1] * (v.ndim - 1))

        codes = np.rint(frame(book) * QUANTA)
        slot = np.asarray(state["slot"], dtype=np.int64)
        newest = codes[np.arange(len(codes)), (slot - 1) % max(book.shape[1], 1)]
        newest = np.clip(np.nan_to_num(newest, posinf=0.0, neginf=0.0), -CODE_MAX, CODE_MAX)
        keep = np.isfinite(codes) & (np.abs(codes) <= CODE_MAX)
        out["codes"] = np.where(keep, codes, newest[:, None]).astype(np.int16)
        out["anchor"], out["scale"] = anchor, scale
        out["lo"], out["hi"] = frame(lo).astype(np.float32), frame(hi).astype(np.float32)
        sm = np.asarray(state.get("smoothed", np.zeros(0)), dtype=np.float64)
        out["smoothed"] = frame(sm).astype(np.float32) if sm.size else sm.astype(np.float32)
        return out

    def _nearest(self, q: np.ndarray) -> np.ndarray:
        """Distance (in codes) from each series' code ``q`` to its nearest stored code
        (codes are within +-CODE_MAX, so an int16 difference cannot overflow)."""
        d = np.abs(self._codes[0] - q)
        tmp = np.empty_like(d)
        for row in self._codes[1:]:
            np.subtract(row, q, out=tmp)
            np.abs(tmp, out=tmp)
            np.minimum(d, tmp, out=d)
        return d

    def _start(self, rows: np.ndarray, x: np.ndarray) -> None:
        """First sample of ``rows``: a frame around it, every slot holds it."""
        a = x[rows].astype(np.float32)
        self.anchor[rows] = a
        self.scale[rows] = np.maximum(np.abs(a) * FIRST_SCALE, SCALE_MIN)
        self.slot[rows] = 1 % self.capacity
        self.lo[rows] = self.hi[rows] = 0.0
        if self.smooth:
            self.smoothed[rows] = 0.0
        self._codes[:, rows] = 0  # the value is the anchor (up to float32 rounding)

    def _rebase(self, rows: np.ndarray, top: np.ndarray, bottom: np.ndarray,
                u: np.ndarray) -> np.ndarray:
        """Move the frame of ``rows`` so that ``[bottom, top]`` (old frame units) spans
        ``FRAME_WIDTH`` around 0; return ``u`` (their current values) in the new frame."""
        a0 = self.anchor[rows].astype(np.float64)
        s0 = self.scale[rows].astype(np.float64)
        width = top - bottom
        a1 = np.clip(a0 + 0.5 * (top + bottom) * s0, -VALUE_MAX, VALUE_MAX).astype(np.float32)
        s1 = np.clip(np.where(width > 0, width / FRAME_WIDTH, 1.0) * s0, SCALE_MIN, VALUE_MAX)
        s1 = s1.astype(np.float32)
        c = (a1 - a0) / s0  # the shift and stretch the float32 frame really has
        h = s1.astype(np.float64) / s0
        self.anchor[rows], self.scale[rows] = a1, s1
        flat = self.hi[rows] == self.lo[rows]  # one value seen so far: every slot holds it
        for name in ("lo", "hi", "smoothed"):
            arr = getattr(self, name)
            if arr.size:
                arr[rows] = (arr[rows] - c) / h
        u = (u - c) / h
        if flat.any():
            one = rows[flat]
            self._codes[:, one] = np.rint(self.lo[one] * QUANTA).astype(np.int16)
        more = ~flat
        rows, c, h = rows[more], c[more], h[more]
        now = np.rint(u[more] * QUANTA).astype(np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            block = self._codes[:, rows].astype(np.float32)
            block -= (QUANTA * c).astype(np.float32)
            block *= (1.0 / h).astype(np.float32)
            np.rint(block, out=block)
            # A value now outside the int16 frame is forgotten (its slot repeats the current).
            keep = np.abs(block) <= CODE_MAX
        self._codes[:, rows] = np.where(keep, block, now).astype(np.int16)
        return u

    def _step(self, x: np.ndarray, ok: np.ndarray, phase: np.ndarray | None) -> np.ndarray:
        every = bool(ok.all())
        # A missing sample sits at the anchor (u = 0): it updates nothing but stays finite.
        xv = np.clip(x if every else np.where(ok, x, self.anchor), -VALUE_MAX, VALUE_MAX)
        first = np.flatnonzero(ok & (self.n_seen == 0))
        if first.size:
            self._start(first, xv)
        # Frame units are O(1): float32 is ample from here on.
        u = np.empty(self.n_series, dtype=np.float32)
        np.clip((xv - self.anchor) / self.scale, -VALUE_MAX, VALUE_MAX, out=u, casting="unsafe")
        u[first] = 0.0  # exactly the anchor (not its float32 rounding error)
        if self.smooth:
            s = self.smoothed.copy()
            s[first] = u[first]
            u -= s
            u *= np.float32(self.smooth)
            u += s
        top, bottom = np.maximum(self.hi, u), np.minimum(self.lo, u)
        width = self.hi - self.lo
        span = top - bottom
        # A new frame when the values leave [-2, 2] or the range shrank below a quarter.
        move = (top > FRAME_EDGE) | (bottom < -FRAME_EDGE) | (
            (span < FRAME_MIN_WIDTH) & (span > 0))
        if not every:
            move &= ok
        # The level the range floor scales with: the frame's centre before this sample.
        level = np.abs(self.anchor) if self.relative_range else None
        if move.any():
            rows = np.flatnonzero(move)
            u[rows] = self._rebase(rows, top[rows], bottom[rows], u[rows])
            top[rows] = np.maximum(self.hi[rows], u[rows])
            bottom[rows] = np.minimum(self.lo[rows], u[rows])
            width[rows] = self.hi[rows] - self.lo[rows]
            if level is not None:  # a series flat at 0 has no level but the new value's
                flat0 = rows[level[rows] == 0]
                level[flat0] = np.abs(self.anchor[flat0])
        # The range is at least a fraction of the level and the per-call floor (value units).
        if level is not None:
            floor = level
            floor *= np.float32(self.relative_range)
            if self.range_floor is not None:
                np.maximum(floor, self.range_floor, out=floor, casting="unsafe")
            floor /= self.scale
            np.maximum(width, floor, out=width)
        elif self.range_floor is not None:
            np.maximum(width, self.range_floor / self.scale, out=width, casting="unsafe")
        width *= np.float32(self.resolution * QUANTA)  # the cell, in codes
        q = u * np.float32(QUANTA)
        if not every:
            q[~ok] = 0.0
        np.rint(q, out=q)
        q = np.clip(q, -CODE_MAX, CODE_MAX, out=q).astype(np.int16)
        d = self._nearest(q)
        novel = d > width
        if not every:
            novel &= ok
        # Within one cell of a stored value is not novel: z is 0 there, else > 1.
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(novel, np.minimum(d / width, np.float32(Z_CAP)), np.float32(0.0))
        new = np.flatnonzero(novel)
        if new.size:
            k = self.slot[new]
            self._codes[k, new] = q[new]
            self.slot[new] = (k.astype(np.int64) + 1) % self.capacity
        # The range follows new extremes at once and otherwise shrinks slowly to its middle.
        shrink = top - bottom
        shrink *= np.float32(0.5 * self.range_decay)
        top -= shrink
        bottom += shrink
        if every:
            self.hi, self.lo = top, bottom
            if self.smooth:
                self.smoothed = u
        else:
            np.copyto(self.hi, top, where=ok)
            np.copyto(self.lo, bottom, where=ok)
            if self.smooth:
                np.copyto(self.smoothed, u, where=ok)
        return z.astype(np.float64)
