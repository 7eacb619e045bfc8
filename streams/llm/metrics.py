"""Prometheus counters for LLM calls: requests by outcome, tokens and cost."""

from __future__ import annotations

from functools import lru_cache

from prometheus_client import REGISTRY, CollectorRegistry, Counter


class LLMMetrics:
    """The LLM counters, registered on ``registry`` when created (never at import)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.requests = Counter(
            "aiops_llm_requests", "LLM calls by provider and outcome "
            "(ok, timeout, rate_limited, unavailable, rejected, malformed, invalid_output, "
            "circuit_open).", ["provider", "outcome"], registry=registry)
        self.tokens = Counter(
            "aiops_llm_tokens", "LLM tokens by provider and direction (in, out).",
            ["provider", "direction"], registry=registry)
        self.cost = Counter(
            "aiops_llm_cost_usd", "Estimated LLM spend in US dollars by provider.",
            ["provider"], registry=registry)

    def request(self, provider: str, outcome: str) -> None:
        self.requests.labels(provider=provider, outcome=outcome).inc()

    def usage(self, provider: str, tokens_in: int, tokens_out: int, cost_usd: float) -> None:
        self.tokens.labels(provider=provider, direction="in").inc(tokens_in)
        self.tokens.labels(provider=provider, direction="out").inc(tokens_out)
        self.cost.labels(provider=provider).inc(cost_usd)


@lru_cache(maxsize=1)
def default_metrics() -> LLMMetrics:
    """The process-wide counters on the default registry (created on first use)."""
    return LLMMetrics()
