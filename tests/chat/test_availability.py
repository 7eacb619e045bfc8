"""Without a usable LLM the chat says so (503 with the reason); tools keep working.
Personas are listed; only admins manage custom ones; sessions belong to their caller."""

from __future__ import annotations

import pytest

from streams.llm.personas import PERSONAS
from tests.llm.servers import openai_error

pytestmark = pytest.mark.stack


def test_no_llm_configured_is_503_with_reason_and_tools_still_work(chat_env) -> None:
    chat_env.use_llm("")
    with chat_env.client("viewer") as c:
        status = c.get("/status").json()
        assert status["available"] is False and "AIOPS_LLM_PROVIDERS" in status["reason"]
        sid = c.post("/sessions", json={"persona": "gpu-expert"}).json()["session_id"]
        for path in (f"/sessions/{sid}/messages", f"/sessions/{sid}/messages/stream"):
            r = c.post(path, json={"content": "hello"})
            assert r.status_code == 503, r.text
            err = r.json()["error"]
            assert "no LLM" in err["message"] and "AIOPS_LLM_PROVIDERS" in err["details"]["reason"]
        assert c.post("/tools/fleet_summary", json={}).json()["result"]["clusters"] == 3


def test_misconfigured_provider_is_503_naming_the_variable(chat_env) -> None:
    chat_env.use_llm("", llm_providers="openai")  # listed, but no key
    with chat_env.client("viewer") as c:
        sid = c.post("/sessions", json={}).json()["session_id"]
        r = c.post(f"/sessions/{sid}/messages", json={"content": "hello"})
    assert r.status_code == 503 and "AIOPS_OPENAI_API_KEY" in r.json()["error"]["details"]["reason"]


def test_every_provider_failing_is_503_and_the_session_is_unchanged(chat_env, llm) -> None:
    chat_env.use_llm("vllm", vllm=llm)
    llm.script(openai_error(500, "down"), openai_error(500, "still down"))
    with chat_env.client("viewer") as c:
        sid = c.post("/sessions", json={}).json()["session_id"]
        r = c.post(f"/sessions/{sid}/messages/stream", json={"content": "hello"})
        assert r.status_code == 503
        assert "HTTP 500" in r.json()["error"]["details"]["reason"]
        assert c.get(f"/sessions/{sid}").json()["messages"] == 0
        assert len(llm.requests) == 2  # one retry, then the chain gave up


def test_personas_listing_and_admin_management(chat_env) -> None:
    with chat_env.client("viewer") as c:
        listed = {p["name"]: p for p in c.get("/personas").json()}
        assert set(PERSONAS) <= set(listed)
        assert listed["network-cnf"]["tools"] == list(PERSONAS["network-cnf"].tools)
        assert "get_gpu_nodes" not in listed["network-cnf"]["tools"]
        body = {"name": "ran-ops", "title": "RAN", "system_prompt": "p", "tools": ["list_alerts"]}
        assert c.post("/personas", json=body).status_code == 403
        assert c.delete("/personas/default").status_code == 403
    with chat_env.client("admin") as a:
        assert a.post("/personas", json={**body, "name": "default"}).status_code == 409
        bad = a.post("/personas", json={**body, "tools": ["drop_database"]})
        assert bad.status_code == 422
        assert a.post("/personas", json={**body, "name": "Bad Name"}).status_code == 422
        assert a.post("/personas", json=body).status_code == 201
        assert a.post("/personas", json={**body, "title": "RAN v2"}).status_code == 200
        names = {p["name"]: p for p in a.get("/personas").json()}
        assert names["ran-ops"]["custom"] and names["ran-ops"]["title"] == "RAN v2"
        assert a.delete("/personas/ran-ops").status_code == 204
        assert a.delete("/personas/ran-ops").status_code == 404
        assert a.delete("/personas/default").status_code == 409
        assert a.post("/sessions", json={"persona": "ran-ops"}).status_code == 400


def test_sessions_are_per_caller(chat_env) -> None:
    with chat_env.client("alpha") as mine, chat_env.client("alpha2") as other:
        sid = mine.post("/sessions", json={"persona": "telco-5g"}).json()["session_id"]
        assert sid in [s["session_id"] for s in mine.get("/sessions").json()]
        assert sid not in [s["session_id"] for s in other.get("/sessions").json()]
        assert other.delete(f"/sessions/{sid}").status_code == 404
        assert mine.delete(f"/sessions/{sid}").status_code == 204
        assert mine.get(f"/sessions/{sid}").status_code == 404
