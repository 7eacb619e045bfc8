"""The fallback chain against local OpenAI/Anthropic API servers."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry

from streams.llm.base import (
    AllProvidersFailed,
    Completion,
    Done,
    InvalidOutput,
    LLMRequest,
    Message,
    ProviderTimeout,
    TextDelta,
)
from streams.llm.chain import ProviderChain
from streams.llm.config import build_chain, provider_order
from streams.llm.metrics import LLMMetrics
from streams.settings import Settings
from tests.llm.conftest import chain_settings
from tests.llm.servers import (
    LLMServer,
    Reply,
    anthropic_error,
    anthropic_message,
    anthropic_message_stream,
    openai_chat,
    openai_chat_stream,
    openai_error,
)

REQUEST = LLMRequest(system="Be brief.", messages=(Message("user", "Say ok."),))


def _chain(settings: Settings, metrics: LLMMetrics, sleeps: list[float] | None = None
           ) -> ProviderChain:
    def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)
        time.sleep(seconds)

    chain = build_chain(settings, metrics, sleep)
    assert chain is not None
    return chain


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_first_healthy_provider_answers_and_is_accounted(
        vllm: LLMServer, claude: LLMServer, registry: CollectorRegistry,
        metrics: LLMMetrics) -> None:
    claude.script(anthropic_message("ok", tokens_in=1000, tokens_out=200))
    chain = _chain(chain_settings("anthropic,vllm", vllm=vllm, claude=claude), metrics)
    result = chain.complete(REQUEST)
    assert result.completion.provider == "anthropic" and result.completion.text == "ok"
    assert result.cost_usd == pytest.approx(1000 / 1000 * 3.0 + 200 / 1000 * 15.0)
    assert vllm.requests == []
    headers = claude.requests[0].headers
    assert "test-anthropic-key" in headers.get("x-api-key", "") + headers.get("authorization", "")
    assert _value(registry, "aiops_llm_requests_total", provider="anthropic", outcome="ok") == 1
    assert _value(registry, "aiops_llm_tokens_total", provider="anthropic", direction="in") == 1000
    assert _value(registry, "aiops_llm_tokens_total", provider="anthropic", direction="out") == 200
    assert _value(registry, "aiops_llm_cost_usd_total", provider="anthropic") == pytest.approx(6.0)


def test_retry_with_backoff_then_success_on_same_provider(
        vllm: LLMServer, registry: CollectorRegistry, metrics: LLMMetrics) -> None:
    vllm.script(openai_error(500, "boom"), openai_chat("ok"))
    sleeps: list[float] = []
    result = _chain(chain_settings("vllm", vllm=vllm), metrics, sleeps).complete(REQUEST)
    assert result.completion.text == "ok"
    assert [a.outcome for a in result.attempts] == ["unavailable", "ok"]
    assert len(sleeps) == 1 and 0.005 <= sleeps[0] <= 0.01
    assert len(vllm.requests) == 2
    assert _value(registry, "aiops_llm_requests_total", provider="vllm",
                  outcome="unavailable") == 1


def test_429_retry_after_is_honoured(vllm: LLMServer, metrics: LLMMetrics) -> None:
    vllm.script(openai_error(429, "slow down", {"retry-after": "0.2"}), openai_chat("ok"))
    sleeps: list[float] = []
    started = time.monotonic()
    result = _chain(chain_settings("vllm", vllm=vllm), metrics, sleeps).complete(REQUEST)
    assert result.completion.text == "ok"
    assert sleeps == [pytest.approx(0.2)]
    assert time.monotonic() - started >= 0.2


def test_429_with_long_retry_after_moves_to_next_provider(
        vllm: LLMServer, claude: LLMServer, metrics: LLMMetrics) -> None:
    claude.script(anthropic_error(429, "rate_limit_error", "later", {"retry-after": "30"}))
    vllm.script(openai_chat("from vllm"))
    sleeps: list[float] = []
    chain = _chain(chain_settings("anthropic,vllm", vllm=vllm, claude=claude), metrics, sleeps)
    result = chain.complete(REQUEST)
    assert result.completion.provider == "vllm"
    assert sleeps == []  # never waits 30 s
    assert [a.outcome for a in result.attempts] == ["rate_limited", "ok"]


def test_timeouts_500s_and_malformed_replies_fall_through_to_last_provider(
        vllm: LLMServer, claude: LLMServer, gpt: LLMServer, registry: CollectorRegistry,
        metrics: LLMMetrics) -> None:
    vllm.script(Reply.hang(3.0), Reply.hang(3.0))
    claude.script(anthropic_error(500, "api_error", "boom"), Reply.raw("<html>oops"))
    gpt.script(openai_chat("ok from openai", tokens_in=100, tokens_out=10))
    chain = _chain(chain_settings("vllm,anthropic,openai", vllm=vllm, claude=claude, gpt=gpt),
                   metrics)
    started = time.monotonic()
    result = chain.complete(REQUEST)
    assert time.monotonic() - started < 2.5  # two 0.5 s timeouts, not the 3 s hangs
    assert result.completion.provider == "openai"
    assert [a.outcome for a in result.attempts] == [
        "timeout", "timeout", "unavailable", "malformed", "ok"]
    assert _value(registry, "aiops_llm_requests_total", provider="vllm", outcome="timeout") == 2
    assert _value(registry, "aiops_llm_cost_usd_total", provider="openai") == pytest.approx(
        100 / 1000 * 0.5 + 10 / 1000 * 1.5)


def test_rejected_request_is_not_retried(claude: LLMServer, vllm: LLMServer,
                                         metrics: LLMMetrics) -> None:
    claude.script(anthropic_error(401, "authentication_error", "bad key"))
    vllm.script(openai_chat("ok"))
    chain = _chain(chain_settings("anthropic,vllm", vllm=vllm, claude=claude), metrics)
    result = chain.complete(REQUEST)
    assert len(claude.requests) == 1
    assert [a.outcome for a in result.attempts] == ["rejected", "ok"]


def test_all_failing_raises_with_every_provider_error(
        vllm: LLMServer, claude: LLMServer, metrics: LLMMetrics) -> None:
    vllm.script(openai_error(500, "a"), openai_error(502, "b"))
    claude.script(anthropic_error(529, "overloaded_error", "c"),
                  anthropic_error(529, "overloaded_error", "d"))
    chain = _chain(chain_settings("vllm,anthropic", vllm=vllm, claude=claude), metrics)
    with pytest.raises(AllProvidersFailed) as caught:
        chain.complete(REQUEST)
    assert [e.provider for e in caught.value.errors] == ["vllm", "anthropic"]
    assert "HTTP 502" in str(caught.value) and "HTTP 529" in str(caught.value)


def test_circuit_breaker_opens_skips_provider_then_half_opens(
        vllm: LLMServer, claude: LLMServer, registry: CollectorRegistry,
        metrics: LLMMetrics) -> None:
    settings = chain_settings("vllm,anthropic", vllm=vllm, claude=claude, llm_max_retries=0,
                              llm_breaker_failures=2, llm_breaker_reset_s=0.3)
    chain = _chain(settings, metrics)
    vllm.script(openai_error(500, "x"), openai_error(500, "y"))
    claude.script(*(anthropic_message("fallback") for _ in range(3)))
    for _ in range(3):
        assert chain.complete(REQUEST).completion.provider == "anthropic"
    assert len(vllm.requests) == 2  # third call never reached vLLM
    assert chain.entries[0].breaker.state == "open"
    assert _value(registry, "aiops_llm_requests_total", provider="vllm",
                  outcome="circuit_open") == 1
    time.sleep(0.35)
    vllm.script(openai_chat("back"))
    result = chain.complete(REQUEST)
    assert result.completion.provider == "vllm" and result.completion.text == "back"
    assert chain.entries[0].breaker.state == "closed"


def test_invalid_output_moves_on_without_retrying(
        vllm: LLMServer, claude: LLMServer, metrics: LLMMetrics) -> None:
    vllm.script(openai_chat("not what we want"))
    claude.script(anthropic_message("WANTED"))

    def validate(completion: Completion) -> str:
        if completion.text != "WANTED":
            raise InvalidOutput(completion.provider, "not the wanted text")
        return completion.text

    chain = _chain(chain_settings("vllm,anthropic", vllm=vllm, claude=claude), metrics)
    result = chain.complete(REQUEST, validate)
    assert result.value == "WANTED"
    assert [a.outcome for a in result.attempts] == ["invalid_output", "ok"]
    assert len(vllm.requests) == 1
    assert chain.entries[0].breaker.state == "closed"


def test_stream_falls_back_before_first_event(
        vllm: LLMServer, claude: LLMServer, registry: CollectorRegistry,
        metrics: LLMMetrics) -> None:
    vllm.script(openai_error(503, "down"), openai_error(503, "down"))
    claude.script(anthropic_message_stream(["hel", "lo"], tokens_in=5, tokens_out=2))
    chain = _chain(chain_settings("vllm,anthropic", vllm=vllm, claude=claude), metrics)
    events = list(chain.stream(REQUEST))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["hel", "lo"]
    assert isinstance(events[-1], Done) and events[-1].completion.provider == "anthropic"
    assert _value(registry, "aiops_llm_tokens_total", provider="anthropic", direction="in") == 5


def test_stream_with_openai_tool_calls(gpt: LLMServer, metrics: LLMMetrics) -> None:
    gpt.script(openai_chat_stream([], [("c1", "list_alerts", {"cluster": "a"}),
                                       ("c2", "get_incident", {"id": "i-1"})]))
    chain = _chain(chain_settings("openai", gpt=gpt), metrics)
    done = list(chain.stream(REQUEST))[-1]
    assert isinstance(done, Done)
    assert [(c.name, c.arguments) for c in done.completion.tool_calls] == [
        ("list_alerts", {"cluster": "a"}), ("get_incident", {"id": "i-1"})]


def test_provider_order_is_validated(vllm: LLMServer) -> None:
    assert build_chain(Settings(llm_providers="")) is None
    with pytest.raises(ValueError, match="unknown provider 'gemini'"):
        provider_order(Settings(llm_providers="vllm,gemini"))
    with pytest.raises(ValueError, match="AIOPS_OPENAI_API_KEY"):
        build_chain(Settings(llm_providers="openai", openai_api_key=None))
    with pytest.raises(ValueError, match="AIOPS_VLLM_URL"):
        build_chain(Settings(llm_providers="vllm", vllm_url=None))


def test_stream_silent_before_first_event_falls_back(
        vllm: LLMServer, claude: LLMServer, metrics: LLMMetrics) -> None:
    vllm.script(openai_chat_stream(["never"]).stalled(after=0, seconds=3.0),
                openai_chat_stream(["never"]).stalled(after=0, seconds=3.0))
    claude.script(anthropic_message_stream(["fine"]))
    chain = _chain(chain_settings("vllm,anthropic", vllm=vllm, claude=claude), metrics)
    events = list(chain.stream(REQUEST))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["fine"]


def test_stream_failing_after_first_event_is_raised_not_mixed(
        vllm: LLMServer, claude: LLMServer, metrics: LLMMetrics) -> None:
    vllm.script(openai_chat_stream(["half ", "of it"]).stalled(after=2, seconds=3.0))
    claude.script(anthropic_message_stream(["other answer"]))
    chain = _chain(chain_settings("vllm,anthropic", vllm=vllm, claude=claude), metrics)
    seen: list[str] = []
    with pytest.raises(ProviderTimeout):
        for event in chain.stream(REQUEST):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    assert seen == ["half "]
    assert claude.requests == []
