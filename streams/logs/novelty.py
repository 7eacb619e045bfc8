"""Online anomaly signals from mined templates: new templates, per-template rate spikes and
error-level bursts, evaluated once per window with vectorised numpy counts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

_ERROR_LEVELS = frozenset({"ERROR", "ERR", "FATAL", "CRITICAL", "CRIT", "SEVERE", "PANIC",
                           "EMERG", "ALERT", "FAILURE", "E", "F"})
_LEVEL_WORD = re.compile(
    r"\b(FATAL|CRITICAL|CRIT|SEVERE|PANIC|EMERG|ALERT|ERROR|ERR|WARNING|WARN|INFO|DEBUG|TRACE)\b")
_ERROR_HINT = re.compile(r"\b(?:exception|error|traceback|failed|failure|fatal|panic|"
                         r"segfault|denied|refused|timed? ?out|unreachable)\b", re.IGNORECASE)
_CAMEL_ERROR = re.compile(r"(?<=[a-z])(?:Exception|Error)\b")  # NullPointerException, IOError


def infer_level(text: str, parsed: str | None = None) -> str:
    """Level from a parsed header field, else a level word in the text, else error hints.

    >>> infer_level("x", parsed="error"), infer_level("[WARN] disk"), infer_level("conn refused")
    ('ERROR', 'WARN', 'ERROR')
    >>> infer_level("all good")
    'INFO'
    """
    if parsed:
        return parsed.strip().upper()
    m = _LEVEL_WORD.search(text)
    if m:
        return m.group(1)
    hint = _ERROR_HINT.search(text) or _CAMEL_ERROR.search(text)
    return "ERROR" if hint else "INFO"


def is_error(level: str) -> bool:
    return level.upper() in _ERROR_LEVELS


@dataclass(slots=True)
class NewTemplateDetector:
    """Flags template ids never seen before (after ``warmup`` observed lines).

    >>> d = NewTemplateDetector(warmup=1)
    >>> d.observe("a"), d.observe("b"), d.observe("b")
    (False, True, False)
    """

    warmup: int = 0
    seen: set[str] = field(default_factory=set)
    lines: int = 0

    def observe(self, template_id: str) -> bool:
        self.lines += 1
        if template_id in self.seen:
            return False
        self.seen.add(template_id)
        return self.lines > self.warmup


@dataclass(frozen=True, slots=True)
class Spike:
    key: str
    count: float
    expected: float
    score: float  # (count - expected) / std


@dataclass(slots=True)
class WindowRateMonitor:
    """EWMA baseline of per-key counts per window; keys above ``mean + k*std`` spike.

    The std has a Poisson floor (``sqrt(mean)``, at least 1) so rare keys do not fire on noise.
    Keys are mapped to dense indices; one window is a ``np.bincount``.

    >>> m = WindowRateMonitor(warmup_windows=3)
    >>> for _ in range(5):
    ...     _ = m.update(["a"] * 10 + ["b"] * 2)
    >>> [s.key for s in m.update(["a"] * 10 + ["b"] * 40)]
    ['b']
    """

    alpha: float = 0.1
    k: float = 4.0
    min_count: int = 5
    warmup_windows: int = 5
    index: dict[str, int] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    var: np.ndarray = field(default_factory=lambda: np.zeros(0))
    windows: int = 0

    def _indices(self, keys: Iterable[str]) -> np.ndarray:
        idx = self.index
        out = []
        for key in keys:
            i = idx.get(key)
            if i is None:
                i = idx[key] = len(self.keys)
                self.keys.append(key)
            out.append(i)
        n = len(self.keys)
        if n > self.mean.size:
            self.mean = np.pad(self.mean, (0, n - self.mean.size))
            self.var = np.pad(self.var, (0, n - self.var.size))
        return np.asarray(out, dtype=np.int64)

    def update(self, window_keys: Sequence[str]) -> list[Spike]:
        """Count one window, report spikes against the baseline, then update the baseline."""
        idx = self._indices(window_keys)
        counts = np.bincount(idx, minlength=len(self.keys)).astype(float)
        std = np.maximum(np.sqrt(self.var), np.maximum(np.sqrt(self.mean), 1.0))
        score = (counts - self.mean) / std
        spikes: list[Spike] = []
        if self.windows >= self.warmup_windows:
            hot = np.flatnonzero((score > self.k) & (counts >= self.min_count))
            spikes = [Spike(self.keys[i], float(counts[i]), float(self.mean[i]), float(score[i]))
                      for i in hot[np.argsort(-score[hot])]]
        delta = counts - self.mean
        self.mean += self.alpha * delta
        self.var = (1 - self.alpha) * (self.var + self.alpha * delta * delta)
        self.windows += 1
        return spikes


class ErrorBurstDetector:
    """Bursts of error-level lines per window (one EWMA baseline per stream).

    >>> d = ErrorBurstDetector(warmup_windows=2)
    >>> [d.update(["INFO"] * 50 + ["ERROR"]) for _ in range(4)]
    [None, None, None, None]
    >>> d.update(["ERROR"] * 30).count
    30.0
    """

    __slots__ = ("monitor",)

    def __init__(self, warmup_windows: int = 5, k: float = 4.0, min_count: int = 5) -> None:
        self.monitor = WindowRateMonitor(k=k, min_count=min_count, warmup_windows=warmup_windows)

    def update(self, levels: Sequence[str]) -> Spike | None:
        """``levels`` of the window's lines; returns the burst, if any."""
        n_err = sum(1 for lv in levels if is_error(lv))
        spikes = self.monitor.update(["error"] * n_err)
        return spikes[0] if spikes else None
