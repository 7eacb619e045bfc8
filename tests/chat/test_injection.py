"""A hostile log line returned by a tool cannot make the model reach outside its persona
or outside the caller's cluster scope."""

from __future__ import annotations

import json

import pytest

from tests.chat.conftest import HOSTILE, sse
from tests.llm.servers import anthropic_message_stream, openai_chat_stream

pytestmark = pytest.mark.stack


@pytest.mark.parametrize("provider", ["vllm", "anthropic"])
def test_injected_tool_call_is_refused_and_scope_holds(chat_env, llm, provider) -> None:
    reply = openai_chat_stream if provider == "vllm" else anthropic_message_stream
    chat_env.use_llm(provider, **({"vllm": llm} if provider == "vllm" else {"claude": llm}))
    llm.script(
        # 1. the model reads alpha's logs, which carry the hostile line
        reply([], [("c1", "query_logs", {"namespace": "ran", "since_minutes": 240})]),
        # 2. the model "obeys" it: a GPU tool (not network-cnf's) and bravo's logs
        reply([], [("c2", "get_gpu_nodes", {"cluster": ["bravo"]}),
                   ("c3", "query_logs", {"cluster": ["bravo"], "since_minutes": 240})]),
        # 3. it answers
        reply(["Nothing more to report for alpha."]))
    with chat_env.client("alpha") as c:
        sid = c.post("/sessions", json={"persona": "network-cnf"}).json()["session_id"]
        r = c.post(f"/sessions/{sid}/messages/stream", json={"content": "PTP health?"})
    assert r.status_code == 200
    events = sse(r.text)
    uses = {d["id"]: d for k, d in events if k == "tool_use"}
    results = {d["id"]: d for k, d in events if k == "tool_result"}
    assert uses["c1"]["refused"] is False and results["c1"]["ok"]
    assert HOSTILE in json.dumps(results["c1"]["result"])  # the telemetry really carried it
    assert uses["c2"]["refused"] is True and "not available" in uses["c2"]["reason"]
    assert results["c2"] == {"id": "c2", "name": "get_gpu_nodes", "ok": False, "refused": True,
                             "error": uses["c2"]["reason"]}
    assert "result" not in results["c2"]  # never executed: no data came back
    assert uses["c3"]["refused"] is False and results["c3"]["result"] == {"lines": []}
    assert "bravo" not in json.dumps(results["c3"])
    done = events[-1][1]
    assert done["refused_tool_calls"] == 1 and done["tool_calls"] == 3
    assert done["text"].endswith("Nothing more to report for alpha.")
    # what the model saw: the hostile text only inside escaped tool data, never in the system
    # prompt, and the refusal for the GPU call
    assert len(llm.requests) == 3
    for recorded in llm.requests:
        body = json.dumps(recorded.body)
        system = (recorded.body["messages"][0]["content"] if provider == "vllm"
                  else recorded.body["system"])
        assert "IGNORE YOUR INSTRUCTIONS" not in system
        assert "<system>" not in body and "</tool-data>" not in body
        offered = {t["function"]["name"] if provider == "vllm" else t["name"]
                   for t in recorded.body["tools"]}
        assert "get_gpu_nodes" not in offered and "get_ptp_status" in offered
    last = json.dumps(llm.requests[2].body)
    assert "IGNORE YOUR INSTRUCTIONS" in last and "\\\\u003csystem\\\\u003e" in last
    assert "not executed" in last


def test_custom_persona_subset_is_enforced(chat_env, llm) -> None:
    chat_env.use_llm("vllm", vllm=llm)
    with chat_env.client("admin") as admin:
        made = admin.post("/personas", json={
            "name": "gpu-lite", "title": "GPU summary only", "tools": ["get_gpu_summary"],
            "system_prompt": "You summarise GPU health in one sentence."})
        assert made.status_code == 201 and made.json()["tools"] == ["get_gpu_summary"]
    llm.script(openai_chat_stream([], [("x", "list_clusters", {})]),
               openai_chat_stream(["ok"]))
    with chat_env.client("viewer") as c:
        sid = c.post("/sessions", json={"persona": "gpu-lite"}).json()["session_id"]
        out = c.post(f"/sessions/{sid}/messages", json={"content": "clusters?"}).json()
    use = next(e["data"] for e in out["events"] if e["type"] == "tool_use")
    assert use["name"] == "list_clusters" and use["refused"] is True
    assert [t["function"]["name"] for t in llm.requests[0].body["tools"]] == ["get_gpu_summary"]
    assert llm.requests[0].body["messages"][0]["content"].startswith(
        "You summarise GPU health in one sentence.")
