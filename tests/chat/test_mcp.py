"""The MCP server, driven by the SDK's own client: streamable HTTP at /mcp and stdio."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from streams.kafka.admin import apply as apply_topics
from streams.llm.personas import ALL_TOOLS

pytestmark = pytest.mark.stack
AIOPS = str(Path(sys.executable).with_name("aiops"))


def _payload(result: Any) -> Any:
    return json.loads(result.content[0].text)


async def _exercise(client: Client, ids: dict[str, dict[str, str]]) -> dict[str, Any]:
    listed = await client.list_tools()
    out: dict[str, Any] = {"tools": [t.name for t in listed.tools]}
    out["read_only"] = all(t.annotations.read_only_hint for t in listed.tools)
    out["clusters"] = _payload(await client.call_tool("list_clusters", {}))
    out["bravo_logs"] = _payload(await client.call_tool(
        "query_logs", {"cluster": ["bravo"], "since_minutes": 240}))
    out["own_logs"] = _payload(await client.call_tool(
        "query_logs", {"level": ["ERROR"], "since_minutes": 240}))
    bravo_incident = await client.call_tool("get_incident",
                                            {"incident_id": ids["bravo"]["incident"]})
    out["bravo_incident"] = (bravo_incident.is_error, _payload(bravo_incident))
    bad = await client.call_tool("query_logs", {"limit": -1})
    out["bad"] = (bad.is_error, _payload(bad))
    return out


def _check_alpha_scope(out: dict[str, Any]) -> None:
    assert out["tools"] == list(ALL_TOOLS) and out["read_only"]
    assert [c["name"] for c in out["clusters"]] == ["alpha"]
    assert out["bravo_logs"] == {"lines": []}
    assert out["own_logs"]["lines"] and {x["cluster"] for x in out["own_logs"]["lines"]} == {
        "alpha"}
    assert out["bravo_incident"] == (True, {"error": "incident not found", "details": None})
    assert out["bad"][0] is True and out["bad"][1]["details"][0]["loc"] == ["limit"]


def test_streamable_http_with_the_sdk_client(chat_env) -> None:
    async def run(token: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(headers=headers, timeout=30, trust_env=False) as http, \
                Client(streamable_http_client(chat_env.url + "/mcp", http_client=http)) as c:
            return await _exercise(c, chat_env.ids)

    _check_alpha_scope(anyio.run(run, chat_env.tokens["alpha"]))
    admin = anyio.run(run, chat_env.tokens["admin"])
    assert [c["name"] for c in admin["clusters"]] == ["alpha", "bravo", "charlie"]
    assert {x["cluster"] for x in admin["bravo_logs"]["lines"]} == {"bravo"}


def test_http_needs_a_valid_token(chat_env) -> None:
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    with httpx.Client(base_url=chat_env.url, timeout=30, trust_env=False) as h:
        for auth in ({}, {"Authorization": "Bearer aiops_nope_nope"}):
            r = h.post("/mcp", json=init, headers={**headers, **auth})
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        ok = h.post("/mcp", json=init, headers={
            **headers, "Authorization": f"Bearer {chat_env.tokens['alpha']}"})
        assert ok.status_code == 200
        session = ok.headers["mcp-session-id"]
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
        stolen = h.post("/mcp", json=listing, headers={
            **headers, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18",
            "Authorization": f"Bearer {chat_env.tokens['admin']}"})
        assert stolen.status_code == 404  # a session only answers the token that opened it


def test_stdio_with_the_sdk_client(chat_env, stack) -> None:
    env = {**os.environ, "AIOPS_KAFKA_BOOTSTRAP": stack.bootstrap,
           "AIOPS_CLICKHOUSE_URL": stack.clickhouse_url,
           "AIOPS_CLICKHOUSE_DATABASE": chat_env.settings.clickhouse_database,
           "AIOPS_CLI_API_TOKEN": chat_env.tokens["alpha"], "AIOPS_LOG_LEVEL": "WARNING"}
    params = StdioServerParameters(command=AIOPS, args=["mcp"], env=env)
    apply_topics(stack.bootstrap)  # a topic created this instant has no leader for a while
    time.sleep(2)

    async def run() -> dict[str, Any]:
        async with Client(params, read_timeout_seconds=60) as c:
            return await _exercise(c, chat_env.ids)

    out = anyio.run(run)
    # the registry here is the catalogue topic (other tests may put clusters there):
    # whatever it holds, an alpha token sees at most alpha
    assert {c["name"] for c in out["clusters"]} <= {"alpha"}
    out["clusters"] = [{"name": "alpha"}]
    _check_alpha_scope(out)


def test_stdio_refuses_a_bad_token(chat_env, stack) -> None:
    import subprocess

    env = {**os.environ, "AIOPS_KAFKA_BOOTSTRAP": stack.bootstrap,
           "AIOPS_CLICKHOUSE_URL": stack.clickhouse_url,
           "AIOPS_CLICKHOUSE_DATABASE": chat_env.settings.clickhouse_database}
    env.pop("AIOPS_CLI_API_TOKEN", None)
    done = subprocess.run([AIOPS, "mcp", "--token", "aiops_bad_token"], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "invalid or expired token" in done.stderr
