"""OpenAI Chat Completions provider (OpenAI itself and vLLM's OpenAI-compatible server).

Uses the ``openai`` SDK with its own retries off (the chain retries); SDK exceptions and
replies that break the protocol are mapped onto the typed errors of :mod:`streams.llm.base`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TypeVar

import openai

from streams.llm.base import (
    Completion,
    Done,
    LLMRequest,
    MalformedResponse,
    Message,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    decode_arguments,
)
from streams.llm.sdk import SdkProvider

T = TypeVar("T")


class OpenAICompatProvider(SdkProvider):
    """A Chat Completions endpoint; ``name`` is ``vllm`` or ``openai`` in reports."""

    def __init__(self, name: str, model: str, api_key: str, base_url: str | None = None,
                 json_mode: bool = True, max_tokens_field: str = "max_tokens") -> None:
        """``max_tokens_field``: ``max_completion_tokens`` for OpenAI's current models."""
        self.name = name
        self.model = model
        self.json_mode = json_mode
        self.max_tokens_field = max_tokens_field
        self.sdk, self.sdk_error = openai, openai.OpenAIError
        self._client = openai.OpenAI(api_key=api_key or "EMPTY", base_url=base_url,
                                     max_retries=0)

    def close(self) -> None:
        self._client.close()

    def complete(self, request: LLMRequest, timeout: float) -> Completion:
        reply = self._call(lambda: self._client.chat.completions.create(
            **self._params(request), timeout=timeout))
        return self._protocol(lambda: self._completion(reply))

    def stream(self, request: LLMRequest, timeout: float) -> Iterator[StreamEvent]:
        chunks = self._call(lambda: self._client.chat.completions.create(
            **self._params(request), stream=True, stream_options={"include_usage": True},
            timeout=timeout))
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        usage, finish, model = Usage(), "", self.model
        for chunk in self._read(chunks):
            events, finish_now = self._protocol(lambda c=chunk: self._chunk_events(c, calls))
            finish = finish_now or finish
            model = getattr(chunk, "model", None) or model
            if getattr(chunk, "usage", None) is not None:
                usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
            for event in events:
                if isinstance(event, TextDelta):
                    text.append(event.text)
                yield event
        tool_calls = self._tool_calls(c for _, c in sorted(calls.items()))
        yield Done(Completion(self.name, model, "".join(text), tool_calls, usage, finish))

    def _params(self, request: LLMRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": request.system},
                         *(_message(m) for m in request.messages)],
            self.max_tokens_field: request.max_tokens,
            "temperature": request.temperature,
        }
        if request.tools:
            params["tools"] = [{"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.parameters}}
                for t in request.tools]
        if request.json_output and self.json_mode and not request.tools:
            params["response_format"] = {"type": "json_object"}
        return params

    def _completion(self, reply: Any) -> Completion:
        if not reply.choices:
            raise MalformedResponse(self.name, "reply has no choices")
        choice = reply.choices[0]
        message = choice.message
        calls = tuple(
            ToolCall(c.id, c.function.name,
                     decode_arguments(self.name, c.function.name, c.function.arguments or ""))
            for c in (message.tool_calls or []))
        usage = Usage(reply.usage.prompt_tokens or 0, reply.usage.completion_tokens or 0) \
            if reply.usage else Usage()
        if not isinstance(message.content, str | None):
            raise MalformedResponse(self.name, "message content is not text")
        return Completion(self.name, reply.model or self.model, message.content or "", calls,
                          usage, choice.finish_reason or "")

    def _chunk_events(self, chunk: Any, calls: dict[int, dict[str, Any]]
                      ) -> tuple[list[StreamEvent], str]:
        events: list[StreamEvent] = []
        if not chunk.choices:
            return events, ""
        choice = chunk.choices[0]
        delta = choice.delta
        if delta.content:
            events.append(TextDelta(delta.content))
        for piece in delta.tool_calls or []:
            call = calls.setdefault(piece.index, {"id": "", "name": "", "args": ""})
            fn = piece.function
            call["id"] = piece.id or call["id"]
            call["name"] = (fn.name if fn and fn.name else "") or call["name"]
            args = (fn.arguments if fn else "") or ""
            call["args"] += args
            events.append(ToolCallDelta(piece.index, piece.id or "",
                                        (fn.name if fn else "") or "", args))
        return events, choice.finish_reason or ""


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["content"] = message.content or None
        out["tool_calls"] = [{"id": c.id, "type": "function", "function": {
            "name": c.name, "arguments": json.dumps(c.arguments)}} for c in message.tool_calls]
    return out
