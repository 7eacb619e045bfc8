"""Fixtures: scriptable local LLM API servers and fast chain settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from streams.llm.metrics import LLMMetrics
from streams.settings import Settings
from tests.llm.servers import LLMServer


@pytest.fixture()
def vllm() -> Iterator[LLMServer]:
    with LLMServer() as server:
        yield server


@pytest.fixture()
def claude() -> Iterator[LLMServer]:
    with LLMServer() as server:
        yield server


@pytest.fixture()
def gpt() -> Iterator[LLMServer]:
    with LLMServer() as server:
        yield server


@pytest.fixture()
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture()
def metrics(registry: CollectorRegistry) -> LLMMetrics:
    return LLMMetrics(registry)


def chain_settings(order: str, vllm: LLMServer | None = None, claude: LLMServer | None = None,
                   gpt: LLMServer | None = None, **overrides: object) -> Settings:
    """Settings pointing each listed provider at its local server, with test-speed timing."""
    values: dict[str, object] = dict(
        llm_providers=order, llm_max_retries=1, llm_backoff_s=0.01, llm_max_backoff_s=1.0,
        llm_breaker_failures=3, llm_breaker_reset_s=60.0,
        vllm_timeout_s=0.5, anthropic_timeout_s=0.5, openai_timeout_s=0.5,
        vllm_model="served-model", openai_model="gpt-test", anthropic_model="claude-test",
        vllm_price_in_per_1k=0.0, vllm_price_out_per_1k=0.0,
        openai_price_in_per_1k=0.5, openai_price_out_per_1k=1.5,
        anthropic_price_in_per_1k=3.0, anthropic_price_out_per_1k=15.0,
    )
    if vllm is not None:
        values["vllm_url"] = vllm.openai_base_url
    if claude is not None:
        values.update(anthropic_base_url=claude.url, anthropic_api_key="test-anthropic-key")
    if gpt is not None:
        values.update(openai_base_url=gpt.openai_base_url, openai_api_key="test-openai-key")
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
