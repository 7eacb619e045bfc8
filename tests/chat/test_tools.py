"""Every tool, called directly over HTTP: results, argument checks, RBAC and cluster scope."""

from __future__ import annotations

import json

import pytest

from api.chat.tools import TOOLS
from streams.llm.personas import ALL_TOOLS

pytestmark = pytest.mark.stack

WINDOW = {"since_minutes": 240}


def _args(env) -> dict[str, dict]:
    """Arguments reaching bravo's data for every tool (bravo's ids, bravo filters)."""
    bravo = env.ids["bravo"]
    scoped = {"cluster": ["bravo"], **WINDOW}
    return {
        "list_clusters": {}, "get_cluster_status": {"cluster": "bravo"}, "fleet_summary": {},
        "query_metrics": {"name": "node_load1", "cluster": ["bravo"], "by": ["cluster"],
                          **WINDOW},
        "get_metric_labels": {"cluster": ["bravo"], "label": "cluster"},
        "search_traces": scoped, "get_trace": {"trace_id": bravo["trace"]},
        "query_logs": scoped, "log_patterns": scoped, "list_alerts": scoped,
        "list_anomalies": scoped, "get_incident": {"incident_id": bravo["incident"]},
        "get_rca": {"incident_id": bravo["incident"]}, "get_gpu_nodes": scoped,
        "get_gpu_summary": scoped, "get_ptp_status": scoped, "get_sriov_status": scoped,
        "get_dpdk_stats": scoped,
    }


def test_registry_matches_personas_and_lists_schemas(chat_env) -> None:
    assert tuple(TOOLS) == ALL_TOOLS and len(TOOLS) == 18
    with chat_env.client("viewer") as c:
        listed = c.get("/tools").json()
    assert [t["name"] for t in listed] == list(ALL_TOOLS)
    logs = next(t for t in listed if t["name"] == "query_logs")
    assert logs["parameters"]["additionalProperties"] is False
    assert "contains" in logs["parameters"]["properties"]


def test_unscoped_viewer_reaches_bravo_through_every_data_tool(chat_env) -> None:
    expect = {  # tools whose bravo answer must carry bravo data
        "get_cluster_status", "query_metrics", "get_metric_labels", "search_traces",
        "get_trace", "query_logs", "log_patterns", "list_alerts", "list_anomalies",
        "get_incident", "get_rca", "get_gpu_nodes", "get_ptp_status", "get_sriov_status"}
    with chat_env.client("viewer") as c:
        for name, args in _args(chat_env).items():
            r = c.post(f"/tools/{name}", json=args)
            assert r.status_code == 200, (name, r.text)
            if name in expect:
                assert "bravo" in r.text, (name, r.text)
        summary = c.post("/tools/get_gpu_summary", json={"cluster": ["bravo"], **WINDOW}).json()
        assert summary["result"]["gpus"] == 1 and summary["result"]["clusters"] == 1
        fleet = c.post("/tools/fleet_summary", json={}).json()["result"]
        assert fleet["clusters"] == 3
        metrics = c.post("/tools/query_metrics", json=_args(chat_env)["query_metrics"]).json()
        values = {p[1] for s in metrics["result"]["series"] for p in s["points"]}
        assert values == {7.0}  # bravo: n1 reads 2, n2 reads 12 -> avg 7


def test_alpha_token_never_sees_bravo_through_any_tool(chat_env) -> None:
    with chat_env.client("alpha") as c:
        for name, args in _args(chat_env).items():
            r = c.post(f"/tools/{name}", json=args)
            assert "bravo" not in r.text and "charlie" not in r.text, (name, r.text)
            if name in ("get_cluster_status", "get_trace", "get_incident", "get_rca"):
                assert r.status_code == 404, (name, r.text)
            else:
                assert r.status_code == 200, (name, r.text)
        fleet = c.post("/tools/fleet_summary", json={}).json()["result"]
        assert fleet["clusters"] == 1
        own = c.post("/tools/query_logs", json={"level": ["ERROR"], **WINDOW}).json()["result"]
        assert own["lines"] and {line["cluster"] for line in own["lines"]} == {"alpha"}
        inc = c.post("/tools/get_rca", json={"incident_id": chat_env.ids["alpha"]["incident"]})
        assert inc.status_code == 200 and inc.json()["result"]["top_entity"] == "db"


def test_bad_arguments_unknown_tools_and_missing_token(chat_env) -> None:
    with chat_env.client("viewer") as c:
        r = c.post("/tools/query_logs", json={"limit": 100000})
        assert r.status_code == 400 and r.json()["error"]["details"][0]["loc"] == ["limit"]
        r = c.post("/tools/query_logs", json={"drop_table": "logs"})
        assert r.status_code == 400
        r = c.post("/tools/get_trace", json={})
        assert r.status_code == 400
        r = c.post("/tools/delete_cluster", json={})
        assert r.status_code == 404 and "delete_cluster" in r.json()["error"]["message"]
        r = c.post("/tools/query_metrics", json={"name": "node_load1", "match": ["bad matcher"]})
        assert r.status_code == 400 and "matcher" in r.json()["error"]["message"]
    with chat_env.client(None) as anon:
        assert anon.post("/tools/list_clusters", json={}).status_code == 401
        assert anon.get("/tools").status_code == 401


def test_tool_results_are_json(chat_env) -> None:
    with chat_env.client("admin") as c:
        r = c.post("/tools/get_trace", json={"trace_id": chat_env.ids["alpha"]["trace"]})
    trace = r.json()["result"]
    assert trace["spans"] == 3 and trace["roots"][0]["children"][0]["service"] == "cart"
    json.dumps(trace)
