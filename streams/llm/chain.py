"""Fallback chain over providers: timeouts, retries with backoff, breakers, accounting.

Providers are tried in order. Each gets its own timeout, a few retries for retryable
errors (timeouts, 429, 5xx, malformed replies) with exponential backoff (a 429's
``retry-after`` is honoured up to ``max_backoff_s``; a longer wait moves on to the next
provider), and its own :class:`CircuitBreaker`. A reply that fails the caller's
``validate`` (raises :class:`InvalidOutput`) moves on to the next provider. Tokens and
estimated cost of every reply, valid or not, are counted in :class:`LLMMetrics`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from streams.llm.base import (
    AllProvidersFailed,
    CircuitOpen,
    Completion,
    Done,
    InvalidOutput,
    LLMError,
    LLMRequest,
    MalformedResponse,
    Provider,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamEvent,
)
from streams.llm.breaker import CircuitBreaker
from streams.llm.metrics import LLMMetrics, default_metrics
from streams.logs_setup import get_logger

T = TypeVar("T")
log = get_logger(__name__)

OUTCOMES: dict[type[LLMError], str] = {
    ProviderTimeout: "timeout",
    RateLimited: "rate_limited",
    ProviderUnavailable: "unavailable",
    ProviderRejected: "rejected",
    MalformedResponse: "malformed",
    InvalidOutput: "invalid_output",
    CircuitOpen: "circuit_open",
}


def outcome_of(error: LLMError) -> str:
    """The metrics outcome label of an error."""
    for cls in type(error).__mro__:
        if cls in OUTCOMES:
            return OUTCOMES[cls]
    return "error"


@dataclass
class ChainEntry:
    """One provider with its call policy and per-1k-token prices (USD)."""

    provider: Provider
    timeout_s: float = 30.0
    max_retries: int = 1
    price_in_per_1k: float = 0.0
    price_out_per_1k: float = 0.0
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)

    def cost(self, completion: Completion) -> float:
        return (completion.usage.tokens_in * self.price_in_per_1k
                + completion.usage.tokens_out * self.price_out_per_1k) / 1000.0


@dataclass(frozen=True)
class Attempt:
    """One call (or refusal) made while walking the chain."""

    provider: str
    outcome: str
    detail: str = ""


@dataclass
class ChainResult(Generic[T]):
    """The accepted completion, the caller's validated value and the path to it."""

    completion: Completion
    value: T
    attempts: list[Attempt]
    cost_usd: float


class ProviderChain:
    """Try providers in order until one returns a reply the caller accepts."""

    def __init__(self, entries: list[ChainEntry], backoff_s: float = 0.5,
                 max_backoff_s: float = 8.0, metrics: LLMMetrics | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.entries = entries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.metrics = metrics or default_metrics()
        self._sleep = sleep

    @property
    def names(self) -> list[str]:
        return [e.provider.name for e in self.entries]

    def close(self) -> None:
        for entry in self.entries:
            entry.provider.close()

    def complete(self, request: LLMRequest,
                 validate: Callable[[Completion], T] | None = None) -> ChainResult[T]:
        """The first reply that ``validate`` accepts; :class:`AllProvidersFailed` if none."""
        check: Callable[[Completion], T] = validate or (lambda c: c)  # type: ignore[assignment,return-value]
        errors: list[LLMError] = []
        attempts: list[Attempt] = []
        for entry in self.entries:
            name = entry.provider.name
            for attempt in range(entry.max_retries + 1):
                if not entry.breaker.allow():
                    self._failed(entry, CircuitOpen(name, "circuit open"), errors, attempts)
                    break
                try:
                    completion = self._guarded(entry, request)
                except LLMError as exc:
                    entry.breaker.record_failure()
                    self._failed(entry, exc, errors, attempts)
                    delay = self._delay(entry, exc, attempt)
                    if delay is None:
                        break
                    self._sleep(delay)
                    continue
                entry.breaker.record_success()
                cost = self._account(entry, completion)
                try:
                    value = check(completion)
                except InvalidOutput as exc:
                    self._failed(entry, exc, errors, attempts)
                    break
                self.metrics.request(name, "ok")
                attempts.append(Attempt(name, "ok"))
                return ChainResult(completion, value, attempts, cost)
        raise AllProvidersFailed(errors, attempts)

    def stream(self, request: LLMRequest) -> Iterator[StreamEvent]:
        """Stream from the first provider that starts answering.

        Falls back only before the first event: once text has been yielded an error is
        raised to the caller, since what was shown cannot be taken back.
        """
        errors: list[LLMError] = []
        attempts: list[Attempt] = []
        for entry in self.entries:
            name = entry.provider.name
            for attempt in range(entry.max_retries + 1):
                if not entry.breaker.allow():
                    self._failed(entry, CircuitOpen(name, "circuit open"), errors, attempts)
                    break
                started = False
                try:
                    for event in self._guarded_stream(entry, request):
                        started = True
                        if isinstance(event, Done):
                            entry.breaker.record_success()
                            self._account(entry, event.completion)
                            self.metrics.request(name, "ok")
                        yield event
                    return
                except LLMError as exc:
                    entry.breaker.record_failure()
                    self._failed(entry, exc, errors, attempts)
                    if started:
                        raise
                    delay = self._delay(entry, exc, attempt)
                    if delay is None:
                        break
                    self._sleep(delay)
        raise AllProvidersFailed(errors, attempts)

    @staticmethod
    def _guarded(entry: ChainEntry, request: LLMRequest) -> Completion:
        """Call the provider; an unexpected exception counts as the provider failing."""
        try:
            return entry.provider.complete(request, entry.timeout_s)
        except LLMError:
            raise
        except Exception as exc:
            log.exception("llm_provider_bug", provider=entry.provider.name)
            raise ProviderUnavailable(entry.provider.name, f"unexpected {exc!r}") from exc

    @staticmethod
    def _guarded_stream(entry: ChainEntry, request: LLMRequest) -> Iterator[StreamEvent]:
        try:
            yield from entry.provider.stream(request, entry.timeout_s)
        except LLMError:
            raise
        except Exception as exc:
            log.exception("llm_provider_bug", provider=entry.provider.name)
            raise ProviderUnavailable(entry.provider.name, f"unexpected {exc!r}") from exc

    def _delay(self, entry: ChainEntry, exc: LLMError, attempt: int) -> float | None:
        """Seconds to wait before retrying ``entry``, or None to move on."""
        if not exc.retryable or attempt >= entry.max_retries:
            return None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return exc.retry_after if exc.retry_after <= self.max_backoff_s else None
        base = min(self.max_backoff_s, self.backoff_s * (2 ** attempt))
        return base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto

    def _failed(self, entry: ChainEntry, exc: LLMError, errors: list[LLMError],
                attempts: list[Attempt]) -> None:
        outcome = outcome_of(exc)
        self.metrics.request(entry.provider.name, outcome)
        attempts.append(Attempt(entry.provider.name, outcome, str(exc)))
        if errors and errors[-1].provider == exc.provider:
            errors[-1] = exc
        else:
            errors.append(exc)
        log.warning("llm_call_failed", provider=entry.provider.name, outcome=outcome,
                    error=str(exc))

    def _account(self, entry: ChainEntry, completion: Completion) -> float:
        cost = entry.cost(completion)
        self.metrics.usage(entry.provider.name, completion.usage.tokens_in,
                           completion.usage.tokens_out, cost)
        return cost
