"""Simulated time: tick ``k`` is at ``start_ms + k * step_ms``, whatever the wall clock does.

``speed`` maps simulated to wall time: 1 is real time, 60 runs an hour a minute, 0 runs as
fast as the machine can. Timestamps never come from the wall clock, so a run is a function of
its seed and start only.

>>> c = SimClock(start_ms=1_000, step_ms=15_000, speed=0)
>>> [c.ts(k) for k in range(3)]
[1000, 16000, 31000]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


def parse_duration(text: str) -> int:
    """``'90s'``, ``'5m'``, ``'2h'``, ``'1d'`` or plain seconds -> milliseconds.

    >>> parse_duration("5m"), parse_duration("1h30m"), parse_duration("250ms")
    (300000, 5400000, 250)
    """
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    text = text.strip().lstrip("+")
    if not text:
        raise ValueError("empty duration")
    total, num = 0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = "ms" if text[i:i + 2] == "ms" else ch
        if unit not in units or not num:
            raise ValueError(f"bad duration {text!r}: use e.g. 90s, 5m, 1h30m")
        total += int(float(num) * units[unit])
        num = ""
        i += len(unit)
    if num:
        total += int(float(num) * 1000)
    return total


def aligned_now_ms(step_ms: int) -> int:
    """The wall clock rounded down to a whole step (a convenient default start)."""
    now = int(time.time() * 1000)
    return now - now % step_ms


@dataclass
class SimClock:
    """Maps tick numbers to simulated timestamps and paces them against the wall clock."""

    start_ms: int
    step_ms: int = 15_000
    speed: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    _wall0: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.step_ms <= 0:
            raise ValueError("step_ms must be positive")
        if self.speed < 0:
            raise ValueError("speed must be >= 0 (0 = as fast as possible)")

    def ts(self, k: int) -> int:
        """Simulated epoch ms of tick ``k``."""
        return self.start_ms + k * self.step_ms

    def wait_for(self, k: int) -> None:
        """Block until tick ``k`` is due on the wall clock (never with speed 0)."""
        if self.speed == 0:
            return
        if self._wall0 is None:
            self._wall0 = self.monotonic()
        due = self._wall0 + k * self.step_ms / 1000.0 / self.speed
        delay = due - self.monotonic()
        if delay > 0:
            self.sleep(delay)
