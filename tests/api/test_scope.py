"""Cluster scope: a token limited to ``alpha`` never sees bravo/charlie data anywhere.

Every GET route of the OpenAPI document is called with the alpha-only token,
unfiltered, filtered to the forbidden clusters, and with path parameters naming
their objects; no answer may mention them.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.api.data import START

pytestmark = pytest.mark.stack
FORBIDDEN = re.compile(r"bravo|charlie|GPU-bravo|0101010101")


def _get_routes(api_env) -> list[str]:
    with api_env.client() as c:
        doc = c.get("/openapi.json").json()
    # streams are checked in test_stream; the chat routes (another area) test their own
    return [p for p, ops in doc["paths"].items() if "get" in ops and p.startswith("/api/v1")
            and not p.startswith(("/api/v1/stream", "/api/v1/chat"))]


def _fill(path: str, ids: dict[str, str]) -> list[str]:
    values = {
        "name": ["bravo", "charlie"], "cluster_id": ["id-bravo", "id-charlie"],
        "anomaly_id": [ids["anomaly"]], "incident_id": [ids["incident"]],
        "trace_id": [ids["trace"]], "uuid": [ids["gpu"]], "label": ["instance", "cluster"],
        "family": ["sriov", "dpdk"], "token_id": ["x"]}
    params = re.findall(r"{(\w+)}", path)
    if not params:
        return [path]
    assert len(params) == 1, path
    return [path.replace("{" + params[0] + "}", v) for v in values[params[0]]]


def test_every_get_route_is_covered(api_env) -> None:
    routes = _get_routes(api_env)
    assert len(routes) >= 25
    for path in routes:
        assert _fill(path, api_env.ids["bravo"])


@pytest.mark.parametrize("extra", [{}, {"cluster": "bravo"}, {"cluster": ["alpha", "charlie"]}])
def test_scoped_token_never_sees_other_clusters(api_env, extra) -> None:
    base = {"start": (START - timedelta(minutes=5)).isoformat(), "name": "node_load1", **extra}
    seen_alpha = 0
    with api_env.client("alpha") as c:
        for route in _get_routes(api_env):
            for path in _fill(route, api_env.ids["bravo"]):
                r = c.get(path, params=base)
                assert r.status_code in (200, 403, 404), (path, r.status_code, r.text)
                assert not FORBIDDEN.search(r.text), (path, extra, r.text[:500])
                seen_alpha += "alpha" in r.text
    if extra.get("cluster") != "bravo":  # alpha's data shows, so the check is not vacuous
        assert seen_alpha >= 10


def test_unscoped_token_sees_forbidden_data(api_env) -> None:
    """The leak check's pattern does match what other tokens may see."""
    with api_env.client("viewer") as c:
        for path in ("/api/v1/clusters", "/api/v1/incidents", "/api/v1/gpu/devices",
                     f"/api/v1/traces/{api_env.ids['bravo']['trace']}", "/api/v1/logs",
                     "/api/v1/notifications/deliveries", "/api/v1/notifications/attempts"):
            r = c.get(path)
            assert r.status_code == 200 and FORBIDDEN.search(r.text), path


def test_scoped_objects_by_id_are_404(api_env) -> None:
    with api_env.client("alpha") as c:
        for path in ("/api/v1/clusters/bravo", "/api/v1/clusters/by-id/id-bravo",
                     "/api/v1/clusters/bravo/status", "/api/v1/incidents/inc-bravo",
                     "/api/v1/anomalies/anom-bravo",
                     f"/api/v1/traces/{api_env.ids['bravo']['trace']}",
                     "/api/v1/gpu/devices/GPU-bravo-0/history"):
            assert c.get(path).status_code == 404, path
        assert c.get("/api/v1/incidents/inc-alpha").status_code == 200
        q = c.get("/api/v1/metrics/query_range", params={
            "name": "node_load1", "by": "cluster", "cluster": ["alpha", "bravo"],
            "start": START.isoformat(), "step": 3600}).json()
        assert q["clusters"] == [{"cluster": "(out of scope)", "status": "forbidden", "rows": 1},
                                 {"cluster": "alpha", "status": "ok", "rows": q["clusters"][1][
                                     "rows"]}]
        assert q["partial"] and [s["labels"] for s in q["series"]] == [{"cluster": "alpha"}]


def test_scoped_admin_writes_stay_in_scope(api_env) -> None:
    with api_env.client("alpha_admin") as c:
        assert c.post("/api/v1/clusters", json={"name": "bravo-2"}).status_code == 403
        assert c.put("/api/v1/clusters/bravo", json={}).status_code == 404
        assert c.delete("/api/v1/clusters/charlie").status_code == 404
        assert c.post("/api/v1/tokens", json={"name": "x", "clusters": ["bravo"]}
                      ).status_code == 403
        made = c.post("/api/v1/tokens", json={"name": "a2", "clusters": ["alpha"]})
        assert made.status_code == 201
        listed = c.get("/api/v1/tokens").json()
        assert all(t["clusters"] == ["alpha"] for t in listed)
    with api_env.client("operator") as c:
        assert c.post("/api/v1/incidents/inc-bravo/ack").status_code == 200
    with api_env.client("alpha") as c:
        assert c.post("/api/v1/incidents/inc-bravo/ack").status_code == 403
