"""Authentication (static tokens, TokenReview, insecure-dev refusal) and RBAC."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from fastapi.testclient import TestClient

from api.app import ConfigurationError, create_app
from api.auth.principal import Role
from api.auth.tokenreview import TokenReviewer, parse_group_roles
from api.auth.tokens import TokenStore
from api.ratelimit import RateLimiter
from api.telemetry import ApiTelemetry
from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import migrate
from tests.api.conftest import api_migrations
from tests.api.tokenreview_server import tokenreview_server

pytestmark = pytest.mark.stack


def _variant(api_env, **changes):
    """The module's services with other settings/auth (no lifespan: nothing started twice)."""
    settings = api_env.services.settings.model_copy(update=changes.pop("settings", {}))
    return dataclasses.replace(api_env.services, settings=settings, limiter=RateLimiter(),
                               telemetry=ApiTelemetry(), started=True, **changes)


def test_missing_and_bad_tokens_get_401_envelope(api_env) -> None:
    with api_env.client(None) as c:
        r = c.get("/api/v1/clusters")
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        err = r.json()["error"]
        assert err["code"] == "unauthorized" and err["request_id"] == r.headers["X-Request-ID"]
        for bad in ("nope", "aiops_000000000000_wrong", api_env.tokens["admin"] + "x"):
            r = c.get("/api/v1/clusters", headers={"Authorization": f"Bearer {bad}"})
            assert r.status_code == 401, bad
        assert c.get("/health").status_code == 200


def test_tokens_are_stored_hashed_and_revocable(api_env, stack) -> None:
    token = api_env.tokens["viewer"]
    client = connect(stack.clickhouse_url, api_env.services.settings.clickhouse_database)
    dump = str(client.query("SELECT * FROM api_tokens").result_rows)
    assert token not in dump and token.split("_")[2] not in dump
    with api_env.client() as admin:
        made = admin.post("/api/v1/tokens", json={"name": "tmp", "role": "viewer"})
        assert made.status_code == 201
        tmp = made.json()["token"]
        listed = admin.get("/api/v1/tokens").json()
        assert "token" not in listed[0] and any(t["name"] == "tmp" for t in listed)
        h = {"Authorization": f"Bearer {tmp}"}
        assert admin.get("/api/v1/fleet/summary", headers=h).status_code == 200
        assert admin.delete(f"/api/v1/tokens/{made.json()['token_id']}").status_code == 204
        assert admin.get("/api/v1/fleet/summary", headers=h).status_code == 401
        assert admin.delete("/api/v1/tokens/doesnotexist").status_code == 404


@pytest.mark.parametrize(("who", "method", "path", "body", "allowed"), [
    ("viewer", "POST", "/api/v1/clusters", {"name": "rbac-x"}, False),
    ("operator", "POST", "/api/v1/clusters", {"name": "rbac-x"}, False),
    ("viewer", "POST", "/api/v1/tokens", {"name": "t"}, False),
    ("operator", "POST", "/api/v1/tokens", {"name": "t"}, False),
    ("operator", "GET", "/api/v1/tokens", None, False),
    ("viewer", "POST", "/api/v1/incidents/inc-alpha/notes", {"text": "x"}, False),
    ("operator", "POST", "/api/v1/incidents/inc-alpha/notes", {"text": "x"}, True),
    ("viewer", "DELETE", "/api/v1/clusters/charlie", None, False),
    ("admin", "GET", "/api/v1/tokens", None, True),
])
def test_rbac(api_env, who, method, path, body, allowed) -> None:
    with api_env.client(who) as c:
        r = c.request(method, path, json=body)
    if allowed:
        assert r.status_code < 300, r.text
    else:
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text


def test_unconfigured_server_refuses_to_start(api_env, stack, tmp_path) -> None:
    db = f"api_empty_{uuid.uuid4().hex[:8]}"
    migrate(connect(stack.clickhouse_url), db, api_migrations(tmp_path))
    services = _variant(api_env, tokens=TokenStore(connect(stack.clickhouse_url, db), db),
                        reviewer=None)
    with pytest.raises(ConfigurationError, match="insecure-dev"):
        create_app(services.settings, services)
    app = create_app(services.settings, services, insecure_dev=True)
    client = TestClient(app)
    r = client.get("/api/v1/fleet/summary")
    assert r.status_code == 200 and r.json()["clusters"] == 3


def test_insecure_dev_warns_on_every_request(api_env, capfd) -> None:
    services = _variant(api_env)
    client = TestClient(create_app(services.settings, services, insecure_dev=True))
    capfd.readouterr()
    for _ in range(3):
        assert client.get("/api/v1/clusters").status_code == 200
    out = capfd.readouterr()
    assert (out.out + out.err).count("api_insecure_dev_request") == 3


def test_tokenreview_with_group_roles_and_cache(api_env) -> None:
    users = {"k8s-sre": {"username": "alice", "uid": "u1", "groups": ["sre", "system:auth"]},
             "k8s-nobody": {"username": "bob", "uid": "u2", "groups": ["dev"]}}
    with tokenreview_server(users, "sa-secret") as (url, reviewed):
        reviewer = TokenReviewer(url, parse_group_roles("sre=operator,admins=admin"),
                                 credentials="sa-secret", cache_s=60)
        services = _variant(api_env, reviewer=reviewer)
        client = TestClient(create_app(services.settings, services))
        h = {"Authorization": "Bearer k8s-sre"}
        assert client.get("/api/v1/fleet/summary", headers=h).status_code == 200
        assert client.get("/api/v1/clusters", headers=h).status_code == 200
        assert reviewed == ["k8s-sre"]  # second request answered from the cache
        r = client.post("/api/v1/incidents/inc-alpha/notes", headers=h, json={"text": "k8s"})
        assert r.status_code == 201 and r.json()["notes"][-1]["author"] == "alice"
        assert client.get("/api/v1/tokens", headers=h).status_code == 403  # operator
        r = client.get("/api/v1/clusters", headers={"Authorization": "Bearer k8s-nobody"})
        assert r.status_code == 401  # authenticated, but no mapped group
        r = client.get("/api/v1/clusters", headers={"Authorization": "Bearer forged"})
        assert r.status_code == 401
        # static tokens keep working beside TokenReview
        r = client.get("/api/v1/clusters",
                       headers={"Authorization": f"Bearer {api_env.tokens['viewer']}"})
        assert r.status_code == 200
    wrong_sa = TokenReviewer(url, {}, credentials="other", cache_s=0)
    services = _variant(api_env, reviewer=wrong_sa)
    client = TestClient(create_app(services.settings, services))
    r = client.get("/api/v1/clusters", headers={"Authorization": "Bearer k8s-sre"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"


def test_group_role_mapping_rejects_unknown_roles() -> None:
    with pytest.raises(ValueError):
        parse_group_roles("sre=root")
    assert parse_group_roles("") == {}
    assert TokenReviewer("http://x", {"a": Role.VIEWER, "b": Role.ADMIN}).role_for(
        ["a", "b"]) is Role.ADMIN
