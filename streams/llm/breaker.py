"""A per-provider circuit breaker: stop calling a provider that keeps failing.

Closed: calls pass. After ``failure_threshold`` consecutive failures it opens: calls are
refused for ``reset_after_s``. Then it is half-open: one trial call passes; success closes
it, failure opens it again.

>>> now = [0.0]
>>> b = CircuitBreaker(failure_threshold=2, reset_after_s=10, clock=lambda: now[0])
>>> b.record_failure(); b.record_failure(); b.state
'open'
>>> b.allow()
False
>>> now[0] = 11.0
>>> b.allow(), b.state
(True, 'half_open')
>>> b.allow()
False
>>> b.record_success(); b.state
'closed'
>>> b.record_failure(); b.record_failure(); now[0] = 22.0; b.allow()
True
>>> b.record_failure(); b.state  # a failed trial re-opens at once
'open'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    """Thread-safe consecutive-failure breaker with a timed half-open trial."""

    def __init__(self, failure_threshold: int = 3, reset_after_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open``."""
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_after_s:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether a call may go out now (claims the single half-open trial)."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half_open" and not self._trial_running:
                self._trial_running = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_running = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial_running or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
            self._trial_running = False
