"""Notification management over real HTTP: routing, endpoints, delivery log, RBAC and scope."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest
import schemathesis
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from connectors.clickhouse.client import connect
from connectors.notify.routing_store import read_routes
from connectors.notify.signing import SIGNATURE_HEADER, verify
from streams.notify.worker import NotifyConfig, NotifyWorker
from tests.api.conftest import create_topics
from tests.api.test_openapi_contract import CHECKS
from tests.notify.conftest import running, wait_for
from tests.notify.receiver import scripted_receiver
from tests.notify.records import incident, publish

pytestmark = pytest.mark.stack
BASE = "/api/v1/notifications"
SECRET = "s3cr3t-hmac-Zq81"
BEARER = "Bearer tok-Qx77-private"
URL_TOKEN = "urltok-Mv42"
YAML_DOC = f"""# operator-managed routing
endpoints:
  - name: pager
    url: "https://pager.example/hook?token={URL_TOKEN}"
    secret: {SECRET}
    headers: {{Authorization: "{BEARER}"}}
  - {{name: am, type: alertmanager, url: "http://am:9093"}}
routes:
  - {{name: crit, match: {{min_severity: HIGH}}, endpoints: [pager, am]}}
"""
YAML = {"Content-Type": "application/yaml"}
PRIVATE = (SECRET, BEARER, "tok-Qx77", URL_TOKEN)


def _stored(api_env) -> str:
    client = connect(api_env.services.pool.url)
    return read_routes(client, api_env.services.settings.clickhouse_database, None).text


def _no_secrets(text: str) -> None:
    for value in PRIVATE:
        assert value not in text, value


def test_routing_is_fleet_wide_and_needs_operator(api_env) -> None:
    writes = [("put", "/routing"), ("delete", "/routing"), ("put", "/endpoints/x"),
              ("delete", "/endpoints/x")]
    reads = ["/routing", "/routes", "/endpoints", "/endpoints/x"]
    for who in ("alpha", "alpha_admin", "viewer"):
        with api_env.client(who) as c:
            for path in reads:
                r = c.get(BASE + path)
                assert r.status_code == 403, (who, path, r.text)
                assert set(r.json()["error"]) == {"code", "message", "details", "request_id"}
            for method, path in writes:
                r = c.request(method, BASE + path, content=b"{}",
                              headers={"Content-Type": "application/json"})
                assert r.status_code == 403, (who, method, path, r.text)
    with api_env.client("alpha_admin") as c:
        assert "fleet-wide" in c.get(BASE + "/routing").json()["error"]["message"]
    with api_env.client(None) as c:
        assert c.get(BASE + "/routing").status_code == 401
    with api_env.client("operator") as c:
        assert c.get(BASE + "/routing").status_code == 200


def test_put_yaml_redacts_secrets_and_round_trips(api_env) -> None:
    with api_env.client("operator") as c:
        r = c.put(BASE + "/routing", content=YAML_DOC, headers=YAML)
        assert r.status_code == 200, r.text
        _no_secrets(r.text)
        body = r.json()
        assert (body["source"], body["actor"], body["error"]) == ("clickhouse", "op", None)
        pager = body["endpoints"][0]
        assert pager == {"name": "pager", "type": "webhook", "format": "generic",
                         "url": "https://pager.example/hook?token=<redacted>", "timeout_s": 5.0,
                         "headers": {"Authorization": "<redacted>"}, "secret_set": True,
                         "secret_env": None, "secret_file": None}
        assert body["endpoints"][1]["secret_set"] is False
        assert body["routes"][0]["name"] == "crit" and body["routes"][0]["continue"] is False
        assert "secret: <redacted>" in body["text"]
        # the notifier's store holds the real values
        stored = _stored(api_env)
        assert SECRET in stored and BEARER in stored and "# operator-managed" in stored
        # GET -> edit -> PUT with the placeholders keeps the stored secrets
        shown = c.get(BASE + "/routing").json()
        _no_secrets(json.dumps(shown))
        edited = shown["text"].replace("min_severity: HIGH", "min_severity: CRITICAL")
        r = c.put(BASE + "/routing", content=edited, headers=YAML)
        assert r.status_code == 200, r.text
        assert r.json()["routes"][0]["match"]["min_severity"] == "CRITICAL"
        stored = yaml.safe_load(_stored(api_env))
        assert stored["endpoints"][0]["secret"] == SECRET
        assert stored["endpoints"][0]["headers"]["Authorization"] == BEARER
        assert stored["endpoints"][0]["url"].endswith(f"token={URL_TOKEN}")
        # JSON bodies are accepted too
        doc = yaml.safe_load(edited)
        doc["routes"][0]["endpoints"] = ["am"]
        r = c.put(BASE + "/routing", json=doc)
        assert r.status_code == 200 and r.json()["routes"][0]["endpoints"] == ["am"]
        assert yaml.safe_load(_stored(api_env))["endpoints"][0]["secret"] == SECRET


@pytest.mark.parametrize(("content", "ctype", "code", "says"), [
    ("endpoints: [{name: h, url: x}]\nroutes: [{name: r, endpoints: [nope]}]",
     "application/yaml", 422, "unknown endpoints"),
    (f"endpoints: [{{name: h, url: x, secret: {SECRET}, secret_env: E}}]", "text/yaml", 422,
     "set only one of secret, secret_env"),
    (f"endpoints: [{{name: h, url: x, headers: {{A: [{SECRET}]}}}}]", "application/yaml", 422,
     "endpoints.0.headers.A"),
    (f"endpoints: [{{name: h, url: x, secret: {SECRET}]", "application/yaml", 422,
     "does not parse"),
    ("endpoints: [{name: h, url: x, secret: <redacted>}]", "application/yaml", 422,
     "nothing is stored"),
    ("a: &a [1, 1]\nb: &b [*a, *a]\nc: [*b, *b]", "application/yaml", 422, "aliases"),
    ("- a list", "application/yaml", 422, "must be a mapping"),
    ('{"endpoints": [', "application/json", 422, "JSON does not parse"),
    ("endpoints: []", "application/xml", 415, "application/yaml"),
    ("#" * 300_000, "application/yaml", 413, "too large"),
])
def test_invalid_documents_are_refused_with_the_reason(api_env, content, ctype, code,
                                                       says) -> None:
    with api_env.client("operator") as c:
        before = c.get(BASE + "/routing").json()
        r = c.put(BASE + "/routing", content=content.encode(), headers={"Content-Type": ctype})
        assert r.status_code == code, r.text
        err = r.json()["error"]
        assert says in err["message"] and err["request_id"], err
        assert SECRET not in r.text
        assert c.get(BASE + "/routing").json() == before  # nothing stored


def test_endpoint_management(api_env) -> None:
    with api_env.client("operator") as c:
        assert c.put(BASE + "/routing", content=YAML_DOC, headers=YAML).status_code == 200
        hook = {"url": "http://hooks.example/new", "format": "slack", "secret": "new-Secret-9",
                "headers": {"X-Team": "payments"}}
        r = c.put(BASE + "/endpoints/slack", json=hook)
        assert r.status_code == 200, r.text
        assert r.json()["secret_set"] and "new-Secret-9" not in r.text
        assert r.json()["headers"] == {"X-Team": "<redacted>"}
        names = [e["name"] for e in c.get(BASE + "/endpoints").json()]
        assert names == ["pager", "am", "slack"]
        assert c.get(BASE + "/endpoints/slack").json()["format"] == "slack"
        # omitting the secret keeps it; the redacted header value keeps the stored one
        r = c.put(BASE + "/endpoints/slack", json={"url": "http://hooks.example/v2",
                                                   "headers": {"X-Team": "<redacted>"}})
        assert r.status_code == 200 and r.json()["secret_set"], r.text
        stored = {e["name"]: e for e in yaml.safe_load(_stored(api_env))["endpoints"]}
        assert stored["slack"]["secret"] == "new-Secret-9"
        assert stored["slack"]["headers"] == {"X-Team": "payments"}
        assert stored["slack"]["url"] == "http://hooks.example/v2"
        # explicit null removes it; switching to secret_env drops the inline one
        r = c.put(BASE + "/endpoints/slack", json={"url": "http://h/x", "secret": None})
        assert r.json()["secret_set"] is False
        r = c.put(BASE + "/endpoints/pager", json={"url": "http://h/p", "secret_env": "PAGER"})
        assert r.status_code == 200 and r.json()["secret_env"] == "PAGER", r.text
        assert "secret" not in yaml.safe_load(_stored(api_env))["endpoints"][0]
        # invalid changes are refused and change nothing
        r = c.put(BASE + "/endpoints/slack", json={"url": "http://h", "secret": "a",
                                                   "secret_file": "/f"})
        assert r.status_code == 422 and "set only one" in r.json()["error"]["message"]
        assert c.put(BASE + "/endpoints/slack", json={"url": "http://h", "colour": "red"}
                     ).status_code == 422
        # a route still names it: 409; otherwise gone
        r = c.delete(BASE + "/endpoints/pager")
        assert r.status_code == 409 and r.json()["error"]["details"] == {"routes": ["crit"]}
        assert c.delete(BASE + "/endpoints/slack").status_code == 204
        assert c.get(BASE + "/endpoints/slack").status_code == 404
        assert c.delete(BASE + "/endpoints/slack").status_code == 404
        assert [r["name"] for r in c.get(BASE + "/routes").json()] == ["crit"]
        # revert to the file (none configured here: the empty document)
        r = c.delete(BASE + "/routing")
        assert r.status_code == 200 and r.json()["source"] == "empty"
        assert c.get(BASE + "/endpoints").json() == []
        # the first endpoint edit on the file/empty document starts an override
        assert c.put(BASE + "/endpoints/solo", json={"url": "http://h/s"}).status_code == 200
        assert c.get(BASE + "/routing").json()["source"] == "clickhouse"
        c.delete(BASE + "/routing")


def test_delivery_log_pages_filters_and_scope(api_env) -> None:
    with api_env.client("viewer") as c:
        r = c.get(BASE + "/deliveries")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == 2 and {d["cluster"] for d in body["items"]} == {"alpha", "bravo"}
        assert body["items"][0]["delivered_ts"] > 0 and "notification" not in body["items"][0]
        attempts = c.get(BASE + "/attempts", params={"page_size": 1}).json()
        assert attempts["total"] == 4 and len(attempts["items"]) == 1
        assert attempts["page_size"] == 1
        second = c.get(BASE + "/attempts", params={"page_size": 1, "page": 2}).json()
        assert second["items"] != attempts["items"]
        for params, want in [({"endpoint": "hook-bravo"}, 2), ({"incident": "inc-alpha"}, 2),
                             ({"subject": "incident:inc-bravo", "status": "OK"}, 1),
                             ({"status": ["OK", "HTTP_ERROR"]}, 4), ({"key": "key-alpha"}, 2),
                             ({"event": "RESOLVED"}, 0), ({"cluster": "bravo"}, 2)]:
            got = c.get(BASE + "/attempts", params=params).json()
            assert got["total"] == want, (params, got)
        assert c.get(BASE + "/deliveries", params={"state": "DEAD"}).json()["total"] == 0
        assert c.get(BASE + "/deliveries", params={"state": "DELIVERED", "incident":
                                                   "inc-bravo"}).json()["total"] == 1
        old = {"start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"}
        assert c.get(BASE + "/deliveries", params=old).json()["total"] == 0
        assert c.get(BASE + "/attempts", params={"status": "LOST"}).status_code == 422
        assert c.get(BASE + "/attempts", params={"page_size": 101}).status_code == 422
        assert c.get(BASE + "/deliveries", params={"subject": "incident:a", "incident": "b"}
                     ).status_code == 400
    with api_env.client("alpha") as c:
        for path in ("/deliveries", "/attempts"):
            for params in ({}, {"cluster": "bravo"}, {"incident": "inc-bravo"},
                           {"endpoint": "hook-bravo"}):
                r = c.get(BASE + path, params=params)
                assert r.status_code == 200 and "bravo" not in r.text, (path, params)
            assert {i["cluster"] for i in c.get(BASE + path).json()["items"]} == {"alpha"}


def test_contract_of_notification_routes_with_an_unscoped_operator(api_env) -> None:
    """Schemathesis with a token that passes RBAC, so the happy paths are checked too."""
    schema = schemathesis.openapi.from_url(api_env.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {api_env.tokens['operator']}"}
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if op.path.startswith(BASE)]
    assert len(operations) == 10
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
    with api_env.client("operator") as c:
        c.delete(BASE + "/routing")


def test_running_notifier_follows_routing_saved_through_the_api(api_env, stack) -> None:
    """A real notifier (Kafka + ClickHouse) delivers where the API's latest document says."""
    topic = f"api.notify-in.{uuid.uuid4().hex[:8]}"
    create_topics(stack.bootstrap, {topic: False})
    db = api_env.services.settings.clickhouse_database
    cluster = f"c-{uuid.uuid4().hex[:6]}"
    with scripted_receiver() as first, scripted_receiver() as second, \
            api_env.client("operator") as c:
        doc = {"endpoints": [{"name": "first", "url": first.url}],
               "routes": [{"name": "all", "match": {"cluster": [cluster]},
                           "endpoints": ["first"]}]}
        assert c.put(BASE + "/routing", json=doc).status_code == 200
        worker = NotifyWorker(stack.bootstrap, stack.clickhouse_url, db, NotifyConfig(
            group=f"api-notify-{cluster}", routes_reload_s=0.3), inputs={topic: "incident"})
        with running(worker):
            publish(stack.bootstrap, topic, "incident", [incident(cluster, "i-1")],
                    "incident_id")
            wait_for(lambda: first.accepted(), 60, "delivery to the first endpoint")
            r = c.put(BASE + "/endpoints/second", json={"url": second.url, "secret": SECRET})
            assert r.status_code == 200, r.text
            doc["routes"][0]["endpoints"] = ["second"]
            shown = c.get(BASE + "/routing").json()["text"]
            edited = yaml.safe_load(shown)
            edited["routes"] = doc["routes"]
            assert c.put(BASE + "/routing", json=edited).status_code == 200
            wait_for(lambda: worker.routing.routes[0].endpoints == ["second"], 30, "reload")
            publish(stack.bootstrap, topic, "incident", [incident(cluster, "i-2")],
                    "incident_id")
            got = wait_for(lambda: second.accepted(), 60, "delivery to the second endpoint")
        assert [r.json()["incident"]["incident_id"] for r in first.accepted()] == ["i-1"]
        assert got[0].json()["incident"]["incident_id"] == "i-2"
        # signed with the secret set through the API
        assert verify(SECRET.encode(), got[0].body, got[0].headers[SIGNATURE_HEADER])
        # and the API shows what happened, scoped to the cluster
        items = c.get(BASE + "/deliveries", params={"cluster": cluster}).json()["items"]
        assert {(d["endpoint"], d["subject"], d["state"]) for d in items} == {
            ("first", "incident:i-1", "DELIVERED"), ("second", "incident:i-2", "DELIVERED")}
        c.delete(BASE + "/routing")


@pytest.mark.parametrize(("text", "error"), [
    (YAML_DOC, None),
    (YAML_DOC.replace("endpoints: [pager, am]", "endpoints: [pager, gone]"), "unknown endpoints"),
    ("endpoints: [unclosed", "does not parse"),
])
def test_file_document_is_shown_redacted_even_when_invalid(api_env, tmp_path, text,
                                                           error) -> None:
    """Without an override the API shows AIOPS_NOTIFY_ROUTES (the notifier's file)."""
    path = tmp_path / "routes.yaml"
    path.write_text(text)
    settings = api_env.services.settings.model_copy(update={"notify_routes": path})
    services = dataclasses.replace(api_env.services, settings=settings, started=True)
    client = TestClient(create_app(settings, services))
    headers = {"Authorization": f"Bearer {api_env.tokens['operator']}"}
    client.delete(BASE + "/routing", headers=headers)
    r = client.get(BASE + "/routing", headers=headers)
    assert r.status_code == 200, r.text
    _no_secrets(r.text)
    body = r.json()
    assert body["source"] == "file", body
    assert body["error"] is None if error is None else error in body["error"], body
    if error:
        assert body["endpoints"] == [] and body["routes"] == []
    else:
        assert [e["name"] for e in body["endpoints"]] == ["pager", "am"]
