"""The full chat loop over HTTP against local OpenAI and Anthropic protocol servers."""

from __future__ import annotations

import json

import pytest

from tests.chat.conftest import sse
from tests.llm.servers import (
    anthropic_message_stream,
    openai_chat_stream,
)

pytestmark = pytest.mark.stack

LOGS_CALL = {"level": ["ERROR"], "since_minutes": 240}


def _stream_reply(provider: str, text: list[str] = (), calls=(), tokens=(100, 20)):
    if provider == "vllm":
        return openai_chat_stream(text, calls, tokens_in=tokens[0], tokens_out=tokens[1])
    return anthropic_message_stream(text, calls, tokens_in=tokens[0], tokens_out=tokens[1])


def _tool_turns(provider: str, body: dict) -> list[str]:
    """The tool results the model was sent, as text."""
    if provider == "vllm":
        return [m["content"] for m in body["messages"] if m["role"] == "tool"]
    return [b["content"] for m in body["messages"] if m["role"] == "user"
            and isinstance(m["content"], list) for b in m["content"]
            if b.get("type") == "tool_result"]


def _system(provider: str, body: dict) -> str:
    if provider == "vllm":
        return body["messages"][0]["content"]
    return body["system"]


@pytest.mark.parametrize("provider", ["vllm", "anthropic"])
def test_streamed_tool_call_then_answer(chat_env, llm, provider) -> None:
    servers = {"vllm": llm} if provider == "vllm" else {"claude": llm}
    chat_env.use_llm(provider, **servers)
    llm.script(
        _stream_reply(provider, ["Checking logs. "], [("call_1", "query_logs", LOGS_CALL)]),
        _stream_reply(provider, ["alpha cart ", "times out."], tokens=(300, 30)))
    with chat_env.client("alpha") as c:
        sid = c.post("/sessions", json={"persona": "platform-ops"}).json()["session_id"]
        r = c.post(f"/sessions/{sid}/messages/stream", json={"content": "why is cart failing?"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse(r.text)
        kinds = [k for k, _ in events]
        assert kinds[0] == "message_start" and kinds[-1] == "message_complete"
        assert kinds.index("tool_use") < kinds.index("tool_result")
        use = next(d for k, d in events if k == "tool_use")
        assert use == {"id": "call_1", "name": "query_logs", "arguments": LOGS_CALL,
                       "refused": False}
        result = next(d for k, d in events if k == "tool_result")
        assert result["ok"] and result["result"]["lines"]
        assert {line["cluster"] for line in result["result"]["lines"]} == {"alpha"}
        text = "".join(d["text"] for k, d in events if k == "content_delta")
        assert text == "Checking logs. alpha cart times out."
        done = events[-1][1]
        assert done["provider"] == provider and done["tokens_in"] == 400
        assert done["tokens_out"] == 50 and done["iterations"] == 2
        assert done["stop_reason"] in ("stop", "end_turn") and done["latency_ms"] > 0
        # the tool result went back to the model as quoted data, not into the system prompt
        assert len(llm.requests) == 2
        second = llm.requests[1].body
        turns = _tool_turns(provider, second)
        assert len(turns) == 1 and "<tool-data-" in turns[0] and "untrusted" in turns[0]
        assert "failed: timeout" in turns[0]
        assert "failed: timeout" not in _system(provider, second)
        assert {t["name"] if provider == "anthropic" else t["function"]["name"]
                for t in second["tools"]} == set(use_tools := next(
                    d for k, d in events if k == "message_start")["tools"])
        assert "get_gpu_nodes" not in use_tools
        # the session keeps the turn; a second message carries the history
        llm.script(_stream_reply(provider, ["Still alpha."]))
        again = c.post(f"/sessions/{sid}/messages", json={"content": "and now?"})
        assert again.status_code == 200 and again.json()["answer"] == "Still alpha."
        history = llm.requests[2].body["messages"]
        assert any("why is cart failing?" in json.dumps(m) for m in history)
        detail = c.get(f"/sessions/{sid}").json()
        assert detail["messages"] == 6 and detail["tokens_in"] == 500
        assert [m["role"] for m in detail["transcript"]] == [
            "user", "assistant", "tool", "assistant", "user", "assistant"]
    with chat_env.client("alpha2") as other:  # same scope, another token: not its session
        assert other.get(f"/sessions/{sid}").status_code == 404
        assert other.post(f"/sessions/{sid}/messages",
                          json={"content": "x"}).status_code == 404


def test_iteration_limit_and_token_budget(chat_env, llm) -> None:
    call = ("c", "list_alerts", {"since_minutes": 240})
    chat_env.use_llm("vllm", vllm=llm, chat_max_iterations=2)
    llm.script(openai_chat_stream([], [call]), openai_chat_stream([], [call]))
    with chat_env.client("viewer") as c:
        sid = c.post("/sessions", json={}).json()["session_id"]
        out = c.post(f"/sessions/{sid}/messages", json={"content": "loop forever"}).json()
        assert out["usage"]["stop_reason"] == "iteration_limit"
        assert out["usage"]["iterations"] == 2 and len(llm.requests) == 2
        assert "stopped before an answer" in out["answer"]
        assert [e["type"] for e in out["events"]].count("tool_result") == 2
        chat_env.use_llm("vllm", vllm=llm, chat_token_budget=150)
        llm.script(openai_chat_stream([], [call], tokens_in=120, tokens_out=40))
        sid = c.post("/sessions", json={}).json()["session_id"]
        out = c.post(f"/sessions/{sid}/messages", json={"content": "spend"}).json()
        assert out["usage"]["stop_reason"] == "token_budget" and len(llm.requests) == 3
        assert llm.pending() == 0
        first = llm.requests[2].body
        assert first["max_tokens"] == 150  # never asks for more than the budget left
