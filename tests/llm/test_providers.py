"""Each provider against a local server speaking its real wire protocol."""

from __future__ import annotations

import time

import pytest

from streams.llm.anthropic import AnthropicProvider
from streams.llm.base import (
    Done,
    LLMRequest,
    MalformedResponse,
    Message,
    Provider,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
)
from streams.llm.openai_compat import OpenAICompatProvider
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

TOOL = ToolSpec("get_gpu_nodes", "List GPU nodes of a cluster.",
                {"type": "object", "properties": {"cluster": {"type": "string"}}})
CONVERSATION = LLMRequest(
    system="You are terse.",
    messages=(
        Message("user", "Which GPU nodes are in prod-a?"),
        Message("assistant", "Let me look.",
                tool_calls=(ToolCall("call_1", "get_gpu_nodes", {"cluster": "prod-a"}),)),
        Message("tool", '["gpu-node-1"]', tool_call_id="call_1"),
    ),
    tools=(TOOL,),
)


def _openai(server: LLMServer) -> OpenAICompatProvider:
    return OpenAICompatProvider("vllm", "served-model", "EMPTY", server.openai_base_url)


def _anthropic(server: LLMServer) -> AnthropicProvider:
    return AnthropicProvider("claude-test", "test-key", server.url)


def test_openai_complete_sends_protocol_messages_and_reads_tool_calls(vllm: LLMServer) -> None:
    vllm.script(openai_chat("One node.", [("call_2", "get_gpu_nodes", {"cluster": "b"})],
                            tokens_in=77, tokens_out=9))
    completion = _openai(vllm).complete(CONVERSATION, timeout=0.5)
    assert completion.text == "One node."
    assert completion.tool_calls == (ToolCall("call_2", "get_gpu_nodes", {"cluster": "b"}),)
    assert (completion.usage.tokens_in, completion.usage.tokens_out) == (77, 9)
    assert completion.provider == "vllm" and completion.model == "served-model"
    sent = vllm.requests[0]
    assert sent.path == "/v1/chat/completions"
    roles = [m["role"] for m in sent.body["messages"]]
    assert roles == ["system", "user", "assistant", "tool"]
    assistant = sent.body["messages"][2]
    assert assistant["tool_calls"][0]["function"] == {
        "name": "get_gpu_nodes", "arguments": '{"cluster": "prod-a"}'}
    assert sent.body["messages"][3]["tool_call_id"] == "call_1"
    assert sent.body["tools"][0]["function"]["name"] == "get_gpu_nodes"


def test_anthropic_complete_sends_protocol_messages_and_reads_tool_use(claude: LLMServer) -> None:
    claude.script(anthropic_message("Checking.", [("toolu_9", "get_gpu_nodes", {"cluster": "c"})],
                                    tokens_in=88, tokens_out=11))
    completion = _anthropic(claude).complete(CONVERSATION, timeout=0.5)
    assert completion.text == "Checking."
    assert completion.tool_calls == (ToolCall("toolu_9", "get_gpu_nodes", {"cluster": "c"}),)
    assert (completion.usage.tokens_in, completion.usage.tokens_out) == (88, 11)
    assert completion.finish_reason == "tool_use"
    sent = claude.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.body["system"] == "You are terse."
    assert [m["role"] for m in sent.body["messages"]] == ["user", "assistant", "user"]
    assert sent.body["messages"][1]["content"][1] == {
        "type": "tool_use", "id": "call_1", "name": "get_gpu_nodes", "input": {"cluster": "prod-a"}}
    assert sent.body["messages"][2]["content"][0]["type"] == "tool_result"
    assert sent.body["tools"][0]["input_schema"]["properties"]["cluster"] == {"type": "string"}


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_streams_text_and_tool_call_deltas(kind: str, vllm: LLMServer) -> None:
    provider: Provider
    if kind == "openai":
        vllm.script(openai_chat_stream(["GPU ", "nodes: "], [("c7", "get_gpu_nodes",
                                                               {"cluster": "prod-a"})],
                                       tokens_in=31, tokens_out=12))
        provider = _openai(vllm)
    else:
        vllm.script(anthropic_message_stream(["GPU ", "nodes: "], [("c7", "get_gpu_nodes",
                                                                     {"cluster": "prod-a"})],
                                             tokens_in=31, tokens_out=12))
        provider = _anthropic(vllm)
    events = list(provider.stream(CONVERSATION, timeout=0.5))
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert texts == ["GPU ", "nodes: "]
    assert deltas[0].id == "c7" and deltas[0].name == "get_gpu_nodes"
    assert "".join(d.arguments for d in deltas) == '{"cluster": "prod-a"}'
    assert len([d for d in deltas if d.arguments]) == 2  # arguments really came in pieces
    assert isinstance(events[-1], Done)
    done = events[-1].completion
    assert done.text == "GPU nodes: "
    assert done.tool_calls == (ToolCall("c7", "get_gpu_nodes", {"cluster": "prod-a"}),)
    assert (done.usage.tokens_in, done.usage.tokens_out) == (31, 12)
    assert vllm.requests[0].body["stream"] is True


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize(("reply", "error"), [
    ("timeout", ProviderTimeout),
    ("429", RateLimited),
    ("500", ProviderUnavailable),
    ("401", ProviderRejected),
    ("not-json", MalformedResponse),
    ("wrong-shape", MalformedResponse),
])
def test_failures_map_to_typed_errors(kind: str, reply: str, error: type,
                                      vllm: LLMServer) -> None:
    replies = {
        "timeout": Reply.hang(3.0),
        "429": (openai_error(429, "slow down", {"retry-after": "0.25"}) if kind == "openai"
                else anthropic_error(429, "rate_limit_error", "slow", {"retry-after": "0.25"})),
        "500": (openai_error(500, "boom") if kind == "openai"
                else anthropic_error(500, "api_error", "boom")),
        "401": (openai_error(401, "bad key") if kind == "openai"
                else anthropic_error(401, "authentication_error", "bad key")),
        "not-json": Reply.raw('{"choices": [ {"message": '),
        "wrong-shape": Reply.json({"unexpected": True}),
    }
    vllm.script(replies[reply])
    provider = _openai(vllm) if kind == "openai" else _anthropic(vllm)
    started = time.monotonic()
    with pytest.raises(error) as caught:
        provider.complete(CONVERSATION, timeout=0.5)
    assert time.monotonic() - started < 2.5  # the timeout is ours, not the server's 3 s
    if reply == "429":
        assert caught.value.retry_after == pytest.approx(0.25)
    assert caught.value.provider == ("vllm" if kind == "openai" else "anthropic")


def test_connection_refused_is_unavailable() -> None:
    with LLMServer() as server:
        url = server.openai_base_url
    provider = OpenAICompatProvider("openai", "m", "k", url)
    with pytest.raises(ProviderUnavailable):
        provider.complete(CONVERSATION, timeout=0.5)


def test_malformed_stream_chunk_is_malformed(vllm: LLMServer) -> None:
    vllm.script(Reply.sse([(None, {"id": "x", "object": "chat.completion.chunk",
                                   "choices": [{"index": 0, "delta": {"content": "a"}}]}),
                           (None, "{broken")]))
    with pytest.raises(MalformedResponse):
        list(_openai(vllm).stream(CONVERSATION, timeout=0.5))


def test_anthropic_stream_error_event_is_unavailable(claude: LLMServer) -> None:
    start = anthropic_message_stream(["partial"])
    chunks = (start.chunks or [])[:1]
    claude.script(Reply(200, b"", {"Content-Type": "text/event-stream"}, chunks=[
        *chunks, b'event: error\ndata: {"type": "error", "error": '
                 b'{"type": "overloaded_error", "message": "Overloaded"}}\n\n']))
    with pytest.raises(ProviderUnavailable, match="overloaded_error"):
        list(_anthropic(claude).stream(CONVERSATION, timeout=0.5))


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_stream_that_goes_silent_times_out(kind: str, vllm: LLMServer) -> None:
    reply = (openai_chat_stream(["a", "b"]) if kind == "openai"
             else anthropic_message_stream(["a", "b"]))
    vllm.script(reply.stalled(after=2, seconds=3.0))
    provider = _openai(vllm) if kind == "openai" else _anthropic(vllm)
    seen = []
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        seen.extend(provider.stream(CONVERSATION, timeout=0.4))
    assert time.monotonic() - started < 2.0
