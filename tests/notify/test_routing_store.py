"""The operator routing store (file + ClickHouse override) and the worker's live reload."""

from __future__ import annotations

import pytest

from connectors.notify.routing import RoutingError
from connectors.notify.routing_store import read_routes, reset_routes, save_routes
from streams.notify.worker import NotifyWorker
from tests.notify.conftest import running, wait_for
from tests.notify.receiver import scripted_receiver
from tests.notify.records import incident, publish

pytestmark = pytest.mark.stack


def test_override_wins_until_reset_and_invalid_documents_are_refused(notify_env):
    env = notify_env
    path = env.routes("endpoints: []\nroutes: []\n")
    assert read_routes(env.client, env.db, path).source == "file"
    assert read_routes(env.client, env.db, None).source == "empty"
    with pytest.raises(RoutingError, match="unknown endpoints"):
        save_routes(env.client, env.db, "routes: [{name: r, endpoints: [x]}]", "alice")
    assert read_routes(env.client, env.db, path).source == "file"
    text = 'endpoints: [{name: h, url: "http://x"}]\nroutes: [{name: r, endpoints: [h]}]\n'
    assert save_routes(env.client, env.db, text, "alice").routes[0].name == "r"
    doc = read_routes(env.client, env.db, path)
    assert (doc.source, doc.text, doc.actor) == ("clickhouse", text, "alice")
    assert doc.updated_ms and doc.config().endpoints[0].name == "h"
    reset_routes(env.client, env.db, "bob")
    assert read_routes(env.client, env.db, path).source == "file"


def test_worker_picks_up_an_operator_override(notify_env):
    env = notify_env
    with scripted_receiver(["ok"]) as rx:
        worker = NotifyWorker(env.bootstrap, env.clickhouse_url, env.db,
                              env.config(env.routes("endpoints: []\nroutes: []\n")))
        with running(worker):
            publish(env.bootstrap, "aiops.incidents", "incident",
                    [incident(env.cluster, "ov-1")], "incident_id")
            wait_for(lambda: (worker.telemetry.registry.get_sample_value(
                "aiops_notify_inputs_total", {"topic": "aiops.incidents"}) or 0) >= 1,
                30, "input read")
            assert not rx.requests  # no route yet: nothing to deliver
            save_routes(env.client, env.db, f"""
endpoints: [{{name: hook, url: "{rx.url}"}}]
routes: [{{name: mine, match: {{cluster: ["{env.cluster}"]}}, endpoints: [hook]}}]
""", "operator")
            wait_for(lambda: worker.routing.endpoints, 10, "reload")
            publish(env.bootstrap, "aiops.incidents", "incident",
                    [incident(env.cluster, "ov-1", status="UPDATED", version=2)], "incident_id")
            wait_for(lambda: rx.accepted(), 30, "delivery after the override")
    assert rx.accepted()[0].json()["event"] == "UPDATED"
