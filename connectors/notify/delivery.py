"""Sending one notification: HTTP attempt, retry policy with jitter, circuit breaker.

The worker owns the schedule; this module decides what one attempt did
(:class:`AttemptResult`), when to try again (:class:`RetryPolicy`) and whether an
endpoint may be tried at all (:class:`CircuitBreaker`).

>>> policy = RetryPolicy(max_attempts=4, base_s=1.0, max_s=8.0, jitter=0.0)
>>> [policy.delay_s(n) for n in (1, 2, 3, 4)]
[1.0, 2.0, 4.0, 8.0]
>>> policy.exhausted(4)
True
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import httpx

from connectors.notify.signing import SIGNATURE_HEADER, sign

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP attempt did."""

    status: str  # OK, HTTP_ERROR, TIMEOUT, CONNECT_ERROR, CONFIG_ERROR
    http_status: int
    latency_ms: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "OK"

    @property
    def retryable(self) -> bool:
        """Failures worth another try (5xx, 408, 429, timeouts, connection errors)."""
        if self.status == "CONFIG_ERROR":
            return False
        if self.status == "HTTP_ERROR":
            return self.http_status >= 500 or self.http_status in (408, 425, 429)
        return not self.ok


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff ``base_s * 2**(n-1)`` capped at ``max_s``, +-``jitter`` fraction."""

    max_attempts: int = 8
    base_s: float = 1.0
    max_s: float = 300.0
    jitter: float = 0.2

    def delay_s(self, attempts: int, rng: random.Random | None = None) -> float:
        """Wait after the ``attempts``-th failed attempt."""
        delay = min(self.max_s, self.base_s * 2 ** max(0, attempts - 1))
        if self.jitter:
            delay *= 1 + (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, delay)

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


class CircuitBreaker:
    """Per-endpoint breaker: opens after ``failures`` in a row, half-opens after ``reset_s``.

    >>> b = CircuitBreaker(failures=2, reset_s=10)
    >>> b.failure(now=0); b.failure(now=1); b.allow(now=2)
    False
    >>> b.allow(now=11.5), b.state
    (True, 'HALF_OPEN')
    """

    def __init__(self, failures: int = 5, reset_s: float = 30.0) -> None:
        self.threshold = failures
        self.reset_s = reset_s
        self.consecutive = 0
        self.opened_at: float | None = None
        self.state = "CLOSED"

    def allow(self, now: float | None = None) -> bool:
        """May an attempt go out now? (one trial when half-open)."""
        now = time.monotonic() if now is None else now
        if self.state == "OPEN" and self.opened_at is not None \
                and now - self.opened_at >= self.reset_s:
            self.state = "HALF_OPEN"
            return True
        return self.state == "CLOSED"

    def retry_at(self) -> float:
        """Monotonic time at which an open breaker lets a trial through."""
        return (self.opened_at or 0.0) + self.reset_s

    def success(self) -> None:
        self.consecutive = 0
        self.opened_at = None
        self.state = "CLOSED"

    def failure(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.consecutive += 1
        if self.state == "HALF_OPEN" or self.consecutive >= self.threshold:
            self.state = "OPEN"
            self.opened_at = now


def post(client: httpx.Client, url: str, body: bytes, *, key: str, secret: bytes | None,
         timeout_s: float, headers: dict[str, str] | None = None) -> AttemptResult:
    """POST ``body`` (JSON) once; signed when ``secret`` is set; never raises for I/O."""
    sent = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: key, **(headers or {})}
    if secret is not None:
        sent[SIGNATURE_HEADER] = sign(secret, body)
    start = time.perf_counter()
    try:
        resp = client.post(url, content=body, headers=sent, timeout=timeout_s)
    except httpx.TimeoutException as exc:
        return AttemptResult("TIMEOUT", 0, _ms(start), f"timed out after {timeout_s}s: {exc!r}")
    except httpx.HTTPError as exc:
        return AttemptResult("CONNECT_ERROR", 0, _ms(start), repr(exc))
    if 200 <= resp.status_code < 300:
        return AttemptResult("OK", resp.status_code, _ms(start))
    return AttemptResult("HTTP_ERROR", resp.status_code, _ms(start),
                         f"HTTP {resp.status_code}: {resp.text[:300]}")


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
