"""Build the provider chain from :class:`streams.settings.Settings`.

``AIOPS_LLM_PROVIDERS`` lists the order (``vllm``, ``anthropic``, ``openai``); each listed
provider must be configured (URL/model or API key), else a clear ``ValueError`` is raised at
start-up. An empty list means no chain: explanations come from the deterministic template.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from streams.llm.anthropic import AnthropicProvider
from streams.llm.breaker import CircuitBreaker
from streams.llm.chain import ChainEntry, ProviderChain
from streams.llm.metrics import LLMMetrics
from streams.llm.openai_compat import OpenAICompatProvider
from streams.settings import Settings

KNOWN = ("vllm", "anthropic", "openai")


def provider_order(settings: Settings) -> list[str]:
    """The configured provider names, validated.

    >>> provider_order(Settings(llm_providers=" vllm, openai "))
    ['vllm', 'openai']
    """
    names = [n.strip().lower() for n in settings.llm_providers.split(",") if n.strip()]
    for name in names:
        if name not in KNOWN:
            raise ValueError(f"AIOPS_LLM_PROVIDERS: unknown provider {name!r}; "
                             f"known: {', '.join(KNOWN)}")
    if len(set(names)) != len(names):
        raise ValueError(f"AIOPS_LLM_PROVIDERS lists a provider twice: {names}")
    return names


def _entry(name: str, settings: Settings) -> ChainEntry:
    s = settings
    if name == "vllm":
        if not s.vllm_url or not s.vllm_model:
            raise ValueError("provider 'vllm' needs AIOPS_VLLM_URL and AIOPS_VLLM_MODEL")
        key = s.vllm_api_key.get_secret_value() if s.vllm_api_key else "EMPTY"
        provider = OpenAICompatProvider("vllm", s.vllm_model, key, s.vllm_url)
        timeout, p_in, p_out = s.vllm_timeout_s, s.vllm_price_in_per_1k, s.vllm_price_out_per_1k
    elif name == "openai":
        if not s.openai_api_key:
            raise ValueError("provider 'openai' needs AIOPS_OPENAI_API_KEY")
        provider = OpenAICompatProvider("openai", s.openai_model,
                                        s.openai_api_key.get_secret_value(), s.openai_base_url,
                                        max_tokens_field="max_completion_tokens")
        timeout, p_in = s.openai_timeout_s, s.openai_price_in_per_1k
        p_out = s.openai_price_out_per_1k
    else:
        if not s.anthropic_api_key:
            raise ValueError("provider 'anthropic' needs AIOPS_ANTHROPIC_API_KEY")
        provider = AnthropicProvider(s.anthropic_model, s.anthropic_api_key.get_secret_value(),
                                     s.anthropic_base_url)
        timeout, p_in = s.anthropic_timeout_s, s.anthropic_price_in_per_1k
        p_out = s.anthropic_price_out_per_1k
    return ChainEntry(provider, timeout, s.llm_max_retries, p_in, p_out,
                      CircuitBreaker(s.llm_breaker_failures, s.llm_breaker_reset_s))


def build_chain(settings: Settings, metrics: LLMMetrics | None = None,
                sleep: Callable[[float], None] = time.sleep) -> ProviderChain | None:
    """The configured chain, or None when no provider is listed."""
    names = provider_order(settings)
    if not names:
        return None
    return ProviderChain([_entry(n, settings) for n in names], settings.llm_backoff_s,
                         settings.llm_max_backoff_s, metrics, sleep)
