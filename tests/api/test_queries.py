"""History endpoints answer from real ClickHouse data with exact values."""

from __future__ import annotations

import pytest

from tests.api.data import BASE, START

pytestmark = pytest.mark.stack


def _range(c, **params):
    r = c.get("/api/v1/metrics/query_range", params={"name": "node_load1", "step": 60,
                                                      "start": _start(), **params})
    assert r.status_code == 200, r.text
    return r.json()


def _start() -> str:
    return START.replace(second=0).isoformat()


def test_range_query_avg_by_cluster_uses_1m_rollup(api_env) -> None:
    with api_env.client() as c:
        body = _range(c, by="cluster")
    assert body["resolution"] == "1m"
    got = {s["labels"]["cluster"]: {p[1] for p in s["points"]} for s in body["series"]}
    assert got == {k: {v + 5.0} for k, v in BASE.items()}
    assert all(len(s["points"]) >= 100 for s in body["series"])
    assert not body["partial"]
    assert {c["cluster"]: c["status"] for c in body["clusters"]} == {
        "alpha": "ok", "bravo": "ok", "charlie": "ok"}


@pytest.mark.parametrize(("agg", "expect"), [
    ("sum", lambda b: 2 * b + 10), ("max", lambda b: b + 10), ("min", lambda b: b),
    ("quantile", lambda b: b + 10)])
def test_range_query_aggregations(api_env, agg, expect) -> None:
    with api_env.client() as c:
        body = _range(c, by="cluster", agg=agg, quantile=0.99)
    for s in body["series"]:
        values = {round(p[1], 6) for p in s["points"]}
        assert values == {expect(BASE[s["labels"]["cluster"]])}, (agg, s["labels"])


@pytest.mark.parametrize(("step", "resolution"), [(15, "raw"), (60, "1m"), (3600, "1h")])
def test_resolution_follows_step(api_env, step, resolution) -> None:
    with api_env.client() as c:
        body = _range(c, step=step, by="cluster", cluster="alpha")
    assert body["resolution"] == resolution
    assert {p[1] for s in body["series"] for p in s["points"]} == {BASE["alpha"] + 5}


@pytest.mark.parametrize(("match", "values"), [
    ('instance="n1"', {1.0}), ('instance!="n1"', {11.0}), ('instance=~"n[12]"', {6.0}),
    ('instance!~"n1|n3"', {11.0}), ('instance=~"n"', set())])
def test_label_matchers(api_env, match, values) -> None:
    with api_env.client() as c:
        body = _range(c, cluster="alpha", match=match)
    assert {p[1] for s in body["series"] for p in s["points"]} == values


def test_group_by_label_and_partial_results(api_env) -> None:
    with api_env.client() as c:
        body = _range(c, by="instance", cluster=["alpha", "ghost"])
    assert {s["labels"]["instance"]: s["points"][0][1] for s in body["series"]} == {
        "n1": 1.0, "n2": 11.0}
    assert body["partial"] is True
    assert {x["cluster"]: x["status"] for x in body["clusters"]} == {
        "alpha": "ok", "ghost": "unknown"}


def test_series_labels_values(api_env) -> None:
    with api_env.client() as c:
        r = c.get("/api/v1/metrics/series", params={"name": "node_load1", "page_size": 4})
        assert r.status_code == 200
        assert r.json()["total"] == 6 and len(r.json()["items"]) == 4
        names = c.get("/api/v1/metrics/labels", params={"name": "node_load1"}).json()["values"]
        assert names == ["instance", "job", "namespace"]
        vals = c.get("/api/v1/metrics/labels/instance/values").json()["values"]
        assert vals == ["n1", "n2"]
        assert c.get("/api/v1/metrics/labels/cluster/values").json()["values"] == [
            "alpha", "bravo", "charlie"]


def test_results_lists_and_incident_detail(api_env) -> None:
    with api_env.client() as c:
        for path, key in (("alerts", "fingerprint"), ("anomalies", "anomaly_id"),
                          ("incidents", "incident_id")):
            r = c.get(f"/api/v1/{path}")
            assert r.status_code == 200, r.text
            assert r.json()["total"] == 2
            r = c.get(f"/api/v1/{path}", params={"cluster": "bravo"})
            assert [x[key] for x in r.json()["items"]] == [api_env.ids["bravo"][
                {"fingerprint": "fingerprint", "anomaly_id": "anomaly", "incident_id":
                 "incident"}[key]]]
        assert c.get("/api/v1/anomalies", params={"severity": "LOW"}).json()["total"] == 0
        assert c.get("/api/v1/incidents", params={"state": "RESOLVED"}).json()["total"] == 0
        assert c.get("/api/v1/alerts", params={"state": "FIRING"}).json()["total"] == 2
        inc = c.get("/api/v1/incidents/inc-alpha").json()
        assert inc["rca"]["top_entity"] == "db" and inc["notes"] == []
        assert c.get("/api/v1/anomalies/anom-alpha").json()["score"] == 7.5


def test_operator_acknowledges_and_annotates(api_env) -> None:
    with api_env.client("operator") as c:
        r = c.post("/api/v1/incidents/inc-bravo/ack")
        assert r.status_code == 200, r.text
        r = c.post("/api/v1/incidents/inc-bravo/notes", json={"text": "db restarted"})
        assert r.status_code == 201
        assert [(n["kind"], n["text"], n["author"]) for n in r.json()["notes"]] == [
            ("ACK", "acknowledged", "op"), ("NOTE", "db restarted", "op")]
    with api_env.client("viewer") as c:
        r = c.post("/api/v1/incidents/inc-bravo/ack")
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_gpu_endpoints(api_env) -> None:
    with api_env.client() as c:
        devs = c.get("/api/v1/gpu/devices").json()
        assert devs["total"] == 2
        alpha = next(d for d in devs["items"] if d["cluster"] == "alpha")
        assert alpha["telemetry"]["gpu_util"] == 54.0 and alpha["pod"] == "train-alpha"
        nodes = c.get("/api/v1/gpu/nodes").json()["items"]
        assert [(n["node"], n["gpus"], n["busy"]) for n in nodes] == [
            ("alpha-gpu1", 1, 1), ("bravo-gpu1", 1, 1)]
        s = c.get("/api/v1/gpu/summary").json()
        assert (s["gpus"], s["total_power_w"], s["avg_gpu_util"]) == (2, 600.0, 54.0)
        h = c.get("/api/v1/gpu/devices/GPU-alpha-0/history",
                  params={"field": ["gpu_util", "power_w"], "step": 3600}).json()
        assert h["fields"] == ["gpu_util", "power_w"] and h["points"][0]["power_w"] == 300.0
        assert c.get("/api/v1/gpu/devices/GPU-nope/history").status_code == 404


def test_cnf_endpoints(api_env) -> None:
    with api_env.client() as c:
        ptp = c.get("/api/v1/cnf/ptp", params={"cluster": "alpha"}).json()["items"]
        assert [(p["node"], p["interface"], p["state"], p["offset_ns"], p["clock_class"])
                for p in ptp] == [("alpha-w1", "ens1f0", "LOCKED", 12.0, 6.0)]
        sriov = c.get("/api/v1/cnf/sriov").json()["items"]
        assert {s["cluster"]: s["counters"]["sriov_vf_rx_bytes"] for s in sriov} == {
            "alpha": 1234.0, "bravo": 1234.0}
        assert c.get("/api/v1/cnf/dpdk").json()["total"] == 0


def test_trace_endpoints(api_env) -> None:
    trace = api_env.ids["alpha"]["trace"]
    with api_env.client() as c:
        found = c.get("/api/v1/traces", params={"service": "db", "status": "ERROR"}).json()
        assert found["total"] == 2
        slow = c.get("/api/v1/traces", params={"min_duration_ms": 2.5}).json()
        assert {t["operation"] for t in slow["items"]} == {"GET /frontend"}
        attr = c.get("/api/v1/traces", params={"attribute": "http.method=POST"}).json()
        assert attr["total"] == 0
        t = c.get(f"/api/v1/traces/{trace}").json()
        root = t["roots"][0]
        assert (t["spans"], root["service"], root["children"][0]["service"],
                root["children"][0]["children"][0]["service"]) == (3, "frontend", "cart", "db")
        svcs = c.get("/api/v1/traces/services", params={"cluster": "alpha"}).json()
        assert [s["service"] for s in svcs] == ["cart", "db", "frontend"]
        ops = c.get("/api/v1/traces/operations", params={"service": "cart"}).json()
        assert {o["operation"] for o in ops} == {"GET /cart"}
        deps = c.get("/api/v1/traces/dependencies", params={"cluster": "alpha"}).json()
        assert deps["nodes"] == ["cart", "frontend"] and deps["edges"][0]["calls"] == 10


def test_log_endpoints(api_env) -> None:
    with api_env.client() as c:
        r = c.get("/api/v1/logs", params={"cluster": "alpha", "contains": "failed"}).json()
        assert len(r["lines"]) == 4 and all("failed" in x["body"] for x in r["lines"])
        fwd = c.get("/api/v1/logs", params={"cluster": "alpha", "direction": "forward",
                                            "limit": 3}).json()["lines"]
        assert [x["body"] for x in fwd] == ["alpha request 0 failed: timeout",
                                            "alpha request 1 ok", "alpha request 2 ok"]
        rx = c.get("/api/v1/logs", params={"regex": r"request 1\d ok", "level": "INFO"}).json()
        assert len(rx["lines"]) == 16  # i in 11..19 without 15, two clusters
        assert c.get("/api/v1/logs", params={"limit": 5001}).status_code == 422
        pats = c.get("/api/v1/logs/patterns", params={"cluster": "alpha"}).json()
        assert [(p["template_id"], p["count"]) for p in pats] == [("t-ok", 16), ("t-fail", 4)]


def test_pagination_bounds(api_env) -> None:
    with api_env.client() as c:
        r = c.get("/api/v1/clusters", params={"page_size": 101})
        assert r.status_code == 422
        err = r.json()["error"]
        assert err["code"] == "invalid_request" and err["request_id"]
        r = c.get("/api/v1/clusters", params={"page_size": 2, "page": 2}).json()
        assert (r["total"], [x["name"] for x in r["items"]]) == (3, ["charlie"])


def test_health_ready_and_metrics(api_env) -> None:
    with api_env.client(None) as c:
        assert c.get("/health").json() == {"status": "ok"}
        r = c.get("/ready")
        assert r.status_code == 200 and r.json()["checks"] == {
            "clickhouse": True, "kafka": True, "registry": True}
        text = c.get("/metrics").text
    assert 'aiops_api_requests_total{method="GET",route="/ready",status="200"}' in text
    assert "aiops_api_request_duration_seconds_bucket" in text
