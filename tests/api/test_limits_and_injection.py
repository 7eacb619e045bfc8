"""Rate limits with their headers, and injection attempts through every filter."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.ratelimit import RateLimiter
from api.telemetry import ApiTelemetry
from connectors.clickhouse.client import connect

pytestmark = pytest.mark.stack

INJECTIONS = [
    "' OR 1=1 --", "alpha' OR '1'='1", "alpha') OR ('1'='1", "'; DROP TABLE alerts; --",
    "\\' OR 1=1 --", "alpha\x00", "{p0:String}", "1) UNION SELECT name FROM system.tables --",
    "`alerts`", '" OR ""="', "%27%20OR%201%3D1",
]
# every filter of every list route, with a value the route accepts syntactically
FILTERS = {
    "/api/v1/clusters": ["name", "environment", "region", "label"],
    "/api/v1/metrics/series": ["cluster", "name", "match"],
    "/api/v1/metrics/labels": ["cluster", "name"],
    "/api/v1/metrics/query_range": ["cluster", "name", "match", "by"],
    "/api/v1/gpu/devices": ["cluster", "node", "model"],
    "/api/v1/gpu/devices/GPU-alpha-0/history": ["cluster", "field"],
    "/api/v1/cnf/ptp": ["cluster"],
    "/api/v1/traces": ["cluster", "service", "operation", "attribute"],
    "/api/v1/traces/operations": ["cluster", "service"],
    "/api/v1/logs": ["cluster", "namespace", "pod", "container", "app", "label", "contains",
                     "regex"],
    "/api/v1/logs/patterns": ["cluster", "namespace", "app"],
    "/api/v1/alerts": ["cluster", "severity", "alertname"],
    "/api/v1/anomalies": ["cluster", "entity_type", "name", "detector"],
    "/api/v1/incidents": ["cluster"],
    "/api/v1/notifications/deliveries": ["cluster", "endpoint", "subject", "incident", "key"],
    "/api/v1/notifications/attempts": ["cluster", "endpoint", "subject", "incident", "key"],
}


def test_rate_limit_headers_and_429(api_env) -> None:
    settings = api_env.services.settings.model_copy(update={
        "api_rate_limit_per_min": 5, "api_expensive_rate_limit_per_min": 2})
    services = dataclasses.replace(api_env.services, settings=settings, limiter=RateLimiter(),
                                   telemetry=ApiTelemetry(), started=True)
    client = TestClient(create_app(settings, services))
    h = {"Authorization": f"Bearer {api_env.tokens['viewer']}"}
    r = client.get("/api/v1/fleet/summary", headers=h)
    assert r.status_code == 200
    assert (r.headers["X-RateLimit-Limit"], r.headers["X-RateLimit-Remaining"]) == ("5", "4")
    codes = [client.get("/api/v1/logs", headers=h).status_code for _ in range(3)]
    assert codes == [200, 200, 429]  # expensive bucket: 2 per minute
    r = client.get("/api/v1/logs", headers=h)
    assert int(r.headers["Retry-After"]) >= 1 and r.json()["error"]["code"] == "rate_limited"
    for _ in range(3):
        r = client.get("/api/v1/clusters", headers=h)
    assert r.status_code == 429 and r.headers["X-RateLimit-Remaining"] == "0"
    # another token has its own buckets
    other = {"Authorization": f"Bearer {api_env.tokens['operator']}"}
    assert client.get("/api/v1/clusters", headers=other).status_code == 200
    metrics = client.get("/metrics").text
    assert 'aiops_api_rate_limited_total{bucket="all"}' in metrics


@pytest.mark.parametrize("route", sorted(FILTERS))
def test_injection_through_every_filter(api_env, stack, route) -> None:
    with api_env.client("alpha") as c:
        for param in FILTERS[route]:
            for payload in INJECTIONS:
                value = f"instance={payload}" if param in ("label", "attribute") else payload
                if param == "match":
                    value = f'instance="{payload}"'
                r = c.get(route, params={param: value, "name": "node_load1"})
                assert r.status_code in (200, 400, 404, 422), (route, param, payload, r.text)
                body = r.json()
                if r.status_code >= 400:
                    assert set(body["error"]) == {"code", "message", "details", "request_id"}
                assert "bravo" not in r.text and "charlie" not in r.text, (route, param)
    db = api_env.services.settings.clickhouse_database
    tables = {r[0] for r in connect(stack.clickhouse_url, db).query("SHOW TABLES").result_rows}
    assert {"alerts", "metrics", "api_tokens", "incidents"} <= tables


@pytest.mark.parametrize(("params", "code"), [
    ({"match": "inst ance=\"x\""}, 400), ({"match": 'x=~"(?=a)"'}, 400),
    ({"match": 'x=~"("'}, 400), ({"by": "cluster) --"}, 400), ({"by": "a'b"}, 400),
    ({"agg": "sum) FROM system.tables --"}, 422), ({"step": "60; DROP"}, 422),
    ({"resolution": "metrics"}, 422), ({"agg": "quantile", "quantile": 0.7}, 400),
    ({"step": 1, "start": "2020-01-01T00:00:00Z"}, 400),
])
def test_metric_query_identifiers_are_allow_listed(api_env, params, code) -> None:
    with api_env.client() as c:
        r = c.get("/api/v1/metrics/query_range", params={"name": "node_load1", **params})
    assert r.status_code == code, r.text
    assert r.json()["error"]["code"] in ("bad_request", "invalid_request")


def test_gpu_history_fields_are_allow_listed(api_env) -> None:
    with api_env.client() as c:
        r = c.get("/api/v1/gpu/devices/GPU-alpha-0/history",
                  params={"field": "gpu_util) FROM system.users --"})
        assert r.status_code == 400 and "gpu_util" in r.json()["error"]["details"]["allowed"]
        r = c.get("/api/v1/logs", params={"regex": "(a"})
        assert r.status_code == 400
