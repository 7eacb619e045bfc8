"""Anthropic Messages API provider.

Uses the ``anthropic`` SDK with its own retries off (the chain retries). Streams are read
as raw Messages events (``content_block_start`` / ``content_block_delta`` with
``text_delta`` or ``input_json_delta`` / ``message_delta``) and turned into the neutral
events of :mod:`streams.llm.base`. The installed SDK no longer takes ``temperature``, so
the request's temperature is not sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import anthropic

from streams.llm.base import (
    Completion,
    Done,
    LLMError,
    LLMRequest,
    MalformedResponse,
    Message,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from streams.llm.sdk import SdkProvider

T = TypeVar("T")


class AnthropicProvider(SdkProvider):
    """Claude models through the Messages API."""

    def __init__(self, model: str, api_key: str, base_url: str | None = None,
                 name: str = "anthropic") -> None:
        self.name = name
        self.model = model
        self.sdk, self.sdk_error = anthropic, anthropic.AnthropicError
        self._client = anthropic.Anthropic(api_key=api_key, base_url=base_url, max_retries=0)

    def close(self) -> None:
        self._client.close()

    def complete(self, request: LLMRequest, timeout: float) -> Completion:
        reply = self._call(lambda: self._client.messages.create(
            **self._params(request), timeout=timeout))
        return self._protocol(lambda: self._completion(reply))

    def stream(self, request: LLMRequest, timeout: float) -> Iterator[StreamEvent]:
        events = self._call(lambda: self._client.messages.create(
            **self._params(request), stream=True, timeout=timeout))
        state: dict[str, Any] = {"text": [], "calls": {}, "order": [], "in": 0, "out": 0,
                                 "stop": "", "model": self.model}
        for event in self._read(events):
            yield from self._protocol(lambda e=event: self._event(e, state))
        calls = self._tool_calls(state["calls"][i] for i in state["order"])
        yield Done(Completion(self.name, state["model"], "".join(state["text"]), calls,
                              Usage(state["in"], state["out"]), state["stop"]))

    def _params(self, request: LLMRequest) -> dict[str, Any]:
        system = request.system
        if request.json_output:
            system += "\n\nAnswer with the JSON object only: no prose, no code fence."
        params: dict[str, Any] = {
            "model": self.model,
            "system": system,
            "messages": _messages(request.messages),
            "max_tokens": request.max_tokens,
        }
        if request.tools:
            params["tools"] = [{"name": t.name, "description": t.description,
                                "input_schema": t.parameters} for t in request.tools]
        return params

    def _completion(self, reply: Any) -> Completion:
        if not isinstance(reply.content, list) or reply.usage is None:
            raise MalformedResponse(self.name, "reply has no content list or usage")
        text, calls = [], []
        for block in reply.content:
            if block.type == "text":
                text.append(block.text)
            elif block.type == "tool_use":
                if not isinstance(block.input, dict):
                    raise MalformedResponse(self.name, f"tool_use {block.name!r} input")
                calls.append(ToolCall(block.id, block.name, block.input))
        return Completion(self.name, reply.model or self.model, "".join(text), tuple(calls),
                          Usage(reply.usage.input_tokens or 0, reply.usage.output_tokens or 0),
                          reply.stop_reason or "")

    def _event(self, event: Any, state: dict[str, Any]) -> list[StreamEvent]:
        kind = event.type
        if kind == "message_start":
            state["model"] = event.message.model or state["model"]
            state["in"] = event.message.usage.input_tokens or 0
            state["out"] = event.message.usage.output_tokens or 0
        elif kind == "content_block_start" and event.content_block.type == "tool_use":
            block = event.content_block
            ordinal = len(state["order"])
            state["order"].append(event.index)
            state["calls"][event.index] = {"id": block.id, "name": block.name, "args": "",
                                           "ordinal": ordinal}
            return [ToolCallDelta(ordinal, block.id, block.name, "")]
        elif kind == "content_block_delta":
            delta = event.delta
            if delta.type == "text_delta":
                state["text"].append(delta.text)
                return [TextDelta(delta.text)]
            if delta.type == "input_json_delta":
                call = state["calls"].get(event.index)
                if call is None:
                    raise MalformedResponse(self.name, "input_json_delta outside a tool_use")
                call["args"] += delta.partial_json
                return [ToolCallDelta(call["ordinal"], arguments=delta.partial_json)]
        elif kind == "message_delta":
            state["stop"] = event.delta.stop_reason or state["stop"]
            if event.usage is not None:
                state["out"] = event.usage.output_tokens or state["out"]
        return []

    def _status_error(self, exc: Any) -> LLMError:
        if exc.status_code >= 400:
            return super()._status_error(exc)
        kind = _error_type(exc.body)  # an ``error`` event inside a 200 stream
        if kind == "rate_limit_error":
            return RateLimited(self.name, "rate limited (stream error event)")
        if kind in ("invalid_request_error", "authentication_error", "permission_error",
                    "not_found_error"):
            return ProviderRejected(self.name, f"stream error event: {kind}")
        return ProviderUnavailable(self.name, f"stream error event: {kind}")


def _error_type(body: object) -> str:
    """The ``error.type`` of an Anthropic error body, or ``unknown``."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("type"), str):
            return error["type"]
    return "unknown"


def _messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Neutral turns to Messages API turns; consecutive tool results share one user turn."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            block = {"type": "tool_result", "tool_use_id": message.tool_call_id,
                     "content": message.content}
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list) \
                    and out[-1]["content"][-1].get("type") == "tool_result":
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        elif message.tool_calls:
            blocks: list[dict[str, Any]] = []
            if message.content:
                blocks.append({"type": "text", "text": message.content})
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                       for c in message.tool_calls]
            out.append({"role": "assistant", "content": blocks})
        else:
            out.append({"role": message.role, "content": message.content})
    return out
