"""Per-token token buckets (all routes, and a tighter one for expensive routes).

Answers carry ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (seconds until the bucket is full); a refused request gets
429 with ``Retry-After``.

>>> rl = RateLimiter(clock=lambda: 0.0)
>>> [rl.take("t", 2).allowed for _ in range(3)]
[True, True, False]
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    retry_after_s: int

    def headers(self, prefix: str = "X-RateLimit") -> dict[str, str]:
        out = {f"{prefix}-Limit": str(self.limit), f"{prefix}-Remaining": str(self.remaining),
               f"{prefix}-Reset": str(self.reset_s)}
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after_s)
        return out


class RateLimiter:
    """Token buckets of ``limit`` per minute keyed by (token, bucket)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, limit_per_min: int) -> Decision:
        rate = limit_per_min / 60.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(limit_per_min), now))
            tokens = min(float(limit_per_min), tokens + (now - last) * rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
        reset = math.ceil((limit_per_min - tokens) / rate) if rate else 0
        retry = 0 if allowed else max(1, math.ceil((1.0 - tokens) / rate))
        return Decision(allowed, limit_per_min, int(tokens), reset, retry)
