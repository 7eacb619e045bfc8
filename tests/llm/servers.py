"""Local HTTP servers speaking the OpenAI Chat Completions and Anthropic Messages APIs.

Protocol-level stand-ins for paid LLM APIs (none can run here). A test scripts the
replies: each request takes the next :class:`Reply` from the queue (good answers, SSE
streams, 429 with retry-after, 500s, hangs past the client timeout, malformed JSON).
An unscripted request gets a 500 so a test never passes by accident. Every request's
path, headers and JSON body are recorded for assertions.

Routes: ``POST /v1/chat/completions`` (OpenAI, vLLM) and ``POST /v1/messages`` (Anthropic).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    chunks: list[bytes] | None = None
    stall_after: int | None = None
    stall_s: float = 0.0

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(obj).encode(), {"Content-Type": "application/json",
                                                      **(headers or {})})

    @classmethod
    def raw(cls, text: str, status: int = 200, content_type: str = "application/json") -> Reply:
        return cls(status, text.encode(), {"Content-Type": content_type})

    @classmethod
    def hang(cls, seconds: float) -> Reply:
        """Answer only after ``seconds`` (past the client's timeout)."""
        return cls(200, b"{}", {"Content-Type": "application/json"}, delay_s=seconds)

    def stalled(self, after: int, seconds: float) -> Reply:
        """This SSE reply, going silent for ``seconds`` after ``after`` events."""
        self.stall_after, self.stall_s = after, seconds
        return self

    @classmethod
    def sse(cls, events: Iterable[tuple[str | None, Any]]) -> Reply:
        """A server-sent-event stream; ``data`` dicts are JSON-encoded, strings sent as is."""
        chunks = []
        for name, data in events:
            text = data if isinstance(data, str) else json.dumps(data)
            head = f"event: {name}\n" if name else ""
            chunks.append(f"{head}data: {text}\n\n".encode())
        return cls(200, b"", {"Content-Type": "text/event-stream"}, chunks=chunks)


def openai_error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply.json({"error": {"message": message, "type": "server_error", "code": None}},
                      status, headers)


def anthropic_error(status: int, kind: str, message: str,
                    headers: dict[str, str] | None = None) -> Reply:
    return Reply.json({"type": "error", "error": {"type": kind, "message": message}},
                      status, headers)


def openai_chat(text: str = "", tool_calls: Sequence[tuple[str, str, dict]] = (),
                model: str = "served-model", tokens_in: int = 120, tokens_out: int = 40) -> Reply:
    """A non-streamed chat completion; ``tool_calls`` are ``(id, name, arguments)``."""
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if tool_calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
            for i, n, a in tool_calls]
    return Reply.json({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": model,
        "choices": [{"index": 0, "message": message,
                     "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                  "total_tokens": tokens_in + tokens_out},
    })


def _oa_chunk(model: str, delta: dict, finish: str | None = None) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def openai_chat_stream(text_chunks: Sequence[str] = (),
                       tool_calls: Sequence[tuple[str, str, dict]] = (),
                       model: str = "served-model", tokens_in: int = 120,
                       tokens_out: int = 40) -> Reply:
    """An SSE chat completion: text pieces, then each tool call in two argument pieces."""
    events: list[tuple[str | None, Any]] = [(None, _oa_chunk(model, {"role": "assistant"}))]
    events += [(None, _oa_chunk(model, {"content": t})) for t in text_chunks]
    for index, (call_id, name, args) in enumerate(tool_calls):
        text = json.dumps(args)
        half = len(text) // 2
        first = {"index": index, "id": call_id, "type": "function",
                 "function": {"name": name, "arguments": text[:half]}}
        events.append((None, _oa_chunk(model, {"tool_calls": [first]})))
        rest = {"index": index, "function": {"arguments": text[half:]}}
        events.append((None, _oa_chunk(model, {"tool_calls": [rest]})))
    events.append((None, _oa_chunk(model, {}, "tool_calls" if tool_calls else "stop")))
    events.append((None, {"id": "chatcmpl-1", "object": "chat.completion.chunk",
                          "created": 1700000000, "model": model, "choices": [],
                          "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                                    "total_tokens": tokens_in + tokens_out}}))
    events.append((None, "[DONE]"))
    return Reply.sse(events)


def anthropic_message(text: str = "", tool_uses: Sequence[tuple[str, str, dict]] = (),
                      model: str = "claude-test", tokens_in: int = 150,
                      tokens_out: int = 50) -> Reply:
    """A non-streamed Messages API reply; ``tool_uses`` are ``(id, name, input)``."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in tool_uses]
    return Reply.json({
        "id": "msg_1", "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": "tool_use" if tool_uses else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
    })


def anthropic_message_stream(text_chunks: Sequence[str] = (),
                             tool_uses: Sequence[tuple[str, str, dict]] = (),
                             model: str = "claude-test", tokens_in: int = 150,
                             tokens_out: int = 50) -> Reply:
    """An SSE Messages stream: a text block, then tool_use blocks with input_json_delta."""
    events: list[tuple[str | None, Any]] = [("message_start", {
        "type": "message_start",
        "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
                    "content": [], "stop_reason": None, "stop_sequence": None,
                    "usage": {"input_tokens": tokens_in, "output_tokens": 1}}})]
    index = 0
    if text_chunks:
        events.append(("content_block_start", {"type": "content_block_start", "index": 0,
                                               "content_block": {"type": "text", "text": ""}}))
        events.append(("ping", {"type": "ping"}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                            "delta": {"type": "text_delta", "text": t}})
                   for t in text_chunks]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        index = 1
    for offset, (call_id, name, args) in enumerate(tool_uses):
        i = index + offset
        text = json.dumps(args)
        half = len(text) // 2
        events.append(("content_block_start", {
            "type": "content_block_start", "index": i,
            "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}}}))
        for piece in (text[:half], text[half:]):
            events.append(("content_block_delta", {
                "type": "content_block_delta", "index": i,
                "delta": {"type": "input_json_delta", "partial_json": piece}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    events.append(("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use" if tool_uses else "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": tokens_out}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return Reply.sse(events)


@dataclass
class Recorded:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class LLMServer:
    """Context manager: a scriptable OpenAI + Anthropic API server on a loopback port."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def script(self, *replies: Reply) -> LLMServer:
        with self.lock:
            self.replies.extend(replies)
        return self

    def pending(self) -> int:
        with self.lock:
            return len(self.replies)

    def __enter__(self) -> LLMServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _next(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        with self.lock:
            self.requests.append(Recorded(path, headers, body))
            if path not in ("/v1/chat/completions", "/v1/messages"):
                return openai_error(404, f"no route {path}")
            if not self.replies:
                return openai_error(500, "no scripted reply")
            return self.replies.popleft()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = json.loads(raw) if raw else {}
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = server._next(self.path.split("?")[0], headers, body)
                if reply.delay_s and server.stopping.wait(reply.delay_s):
                    return
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    if reply.chunks is None:
                        self.send_header("Content-Length", str(len(reply.body)))
                        self.end_headers()
                        self.wfile.write(reply.body)
                        return
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.flush()
                    for sent, chunk in enumerate(reply.chunks):
                        if sent == reply.stall_after and server.stopping.wait(reply.stall_s):
                            return
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
