"""Delivery against real local receivers: fail, time out, recover; dead letter; breaker."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from connectors.notify.delivery_log import list_attempts, list_deliveries
from schemas.topics import Topic
from streams.kafka import admin
from streams.kafka.clients import make_producer
from streams.notify.worker import NotifyWorker
from tests.notify.conftest import running, wait_for
from tests.notify.receiver import scripted_receiver
from tests.notify.records import anomaly, incident, publish, rca
from tests.receivers.conftest import collect

pytestmark = pytest.mark.stack
SECRET = "hook-secret-1"


def _routes(env, url: str, **endpoint: object) -> str:
    extra = "".join(f", {k}: {v}" for k, v in endpoint.items())
    return f"""
endpoints:
  - {{name: hook, url: "{url}", timeout_s: 1, secret_env: NOTIFY_TEST_SECRET{extra}}}
routes:
  - name: mine
    match: {{cluster: ["{env.cluster}"]}}
    endpoints: [hook]
"""


def test_fail_timeout_then_recover_delivers_once_signed(notify_env, monkeypatch):
    env = notify_env
    monkeypatch.setenv("NOTIFY_TEST_SECRET", SECRET)
    with scripted_receiver(["500", "500", "hang", "ok"], hang_s=2.5) as rx:
        worker = NotifyWorker(env.bootstrap, env.clickhouse_url, env.db,
                              env.config(env.routes(_routes(env, rx.url))))
        with running(worker):
            publish(env.bootstrap, "aiops.incidents", "incident",
                    [incident(env.cluster, "inc-1")], "incident_id")
            wait_for(lambda: env.rows("SELECT 1 FROM {db}.notification_deliveries FINAL "
                                      "WHERE state = 'DELIVERED'"), 40, "delivery")
        (accepted,) = rx.accepted()
    attempts = env.rows("SELECT attempt, status, http_status, latency_ms, error, "
                        "idempotency_key FROM {db}.notification_attempts ORDER BY timestamp")
    assert [(a[0], a[1], a[2]) for a in attempts] == [
        (1, "HTTP_ERROR", 500), (2, "HTTP_ERROR", 500), (3, "TIMEOUT", 0), (4, "OK", 200)]
    assert attempts[2][3] >= 900 and "timed out" in attempts[2][4]
    assert "scripted failure" in attempts[0][4] and attempts[3][4] == ""
    key = attempts[0][5]
    assert {a[5] for a in attempts} == {key}

    body, headers = accepted.body, {k.lower(): v for k, v in accepted.headers.items()}
    assert headers["idempotency-key"] == key
    parts = dict(p.split("=", 1) for p in headers["x-aiops-signature"].split(","))
    expected = hmac.new(SECRET.encode(), parts["t"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])
    assert abs(time.time() - int(parts["t"])) < 60
    doc = accepted.json()
    assert doc["incident"]["incident_id"] == "inc-1" and doc["idempotency_key"] == key

    listed = list_attempts(env.client, env.db, endpoint="hook")
    assert [a["status"] for a in listed] == ["OK", "TIMEOUT", "HTTP_ERROR", "HTTP_ERROR"]
    (delivery,) = list_deliveries(env.client, env.db, subject="incident:inc-1")
    assert delivery["state"] == "DELIVERED" and delivery["attempts"] == 4


def test_retry_budget_ends_in_dead_letter_and_breaker_spaces_attempts(notify_env, monkeypatch):
    env = notify_env
    monkeypatch.setenv("NOTIFY_TEST_SECRET", SECRET)
    with scripted_receiver(["500"]) as rx:
        config = env.config(env.routes(_routes(env, rx.url)), breaker_failures=2,
                            breaker_reset_s=2.5)
        config = type(config)(**{**config.__dict__,
                                 "retry": type(config.retry)(3, 0.1, 1.0, 0.0)})
        worker = NotifyWorker(env.bootstrap, env.clickhouse_url, env.db, config)
        with running(worker):
            publish(env.bootstrap, "aiops.incidents", "incident",
                    [incident(env.cluster, "inc-dead")], "incident_id")
            wait_for(lambda: env.rows("SELECT 1 FROM {db}.notification_deliveries FINAL "
                                      "WHERE state = 'DEAD'"), 40, "dead letter")
        assert len(rx.requests) == 3
    times = [r.at for r in rx.requests]
    assert times[1] - times[0] < 1.5  # plain backoff (0.1 s)
    assert times[2] - times[1] >= 2.4  # the open breaker held the third try
    (row,) = env.rows("SELECT attempts, last_error, idempotency_key FROM "
                      "{db}.notification_deliveries FINAL")
    assert row[0] == 3 and "HTTP 500" in row[1]
    found = collect(env.bootstrap, "aiops.deadletter", "dead_letter",
                    lambda r: r["key"] == row[2].encode(), 1)
    (_, dead), = found
    assert dead["component"] == "notify" and dead["stage"] == "SINK"
    assert "after 3 attempts" in dead["error"] and b"inc-dead" in dead["raw"]


def test_rca_and_anomalies_routing_mute_and_severity_floor(notify_env):
    env = notify_env
    with scripted_receiver(["ok"]) as rx:
        routes = f"""
endpoints:
  - {{name: json, url: "{rx.url}", format: generic}}
  - {{name: chat, url: "{rx.url}", format: slack}}
routes:
  - name: quiet
    match: {{cluster: ["{env.cluster}"], namespace: [muted]}}
    endpoints: [json]
    mute: [{{from: "2000-01-01T00:00:00Z", until: "2100-01-01T00:00:00Z"}}]
  - name: team
    match: {{cluster: ["{env.cluster}"], labels: {{team: payments}}}}
    endpoints: [chat]
  - name: mine
    match: {{cluster: ["{env.cluster}"]}}
    endpoints: [json]
"""
        worker = NotifyWorker(env.bootstrap, env.clickhouse_url, env.db,
                              env.config(env.routes(routes)))
        with running(worker):
            publish(env.bootstrap, "aiops.incidents", "incident",
                    [incident(env.cluster, "inc-r"),
                     incident(env.cluster, "inc-m", namespace="muted")], "incident_id")
            publish(env.bootstrap, "aiops.rca", "rca_report", [rca(env.cluster, "inc-r")],
                    "incident_id")
            publish(env.bootstrap, "aiops.anomalies", "anomaly",
                    [anomaly(env.cluster, "an-hi", "CRITICAL"),
                     anomaly(env.cluster, "an-lo", "MEDIUM")], "cluster")
            wait_for(lambda: len(rx.accepted()) >= 3, 30, "three deliveries")
            time.sleep(1.0)
        states = dict(env.rows("SELECT subject || '/' || event, state FROM "
                               "{db}.notification_deliveries FINAL"))
    assert states == {"incident:inc-r/OPEN": "DELIVERED", "incident:inc-r/RCA": "DELIVERED",
                      "incident:inc-m/OPEN": "MUTED", "anomaly:an-hi/ANOMALY": "DELIVERED"}
    bodies = [r.json() for r in rx.accepted()]
    rca_doc = next(b for b in bodies if b.get("event") == "RCA")
    assert rca_doc["incident"]["incident_id"] == "inc-r"
    assert rca_doc["probable_cause"] == "db-0 OOM-killed"
    (chat,) = [b["text"] for b in bodies if "text" in b]
    assert "SPIKE on node_cpu" in chat and "*[ANOMALY] CRITICAL*" in chat


def test_open_incident_repeats_until_resolved(notify_env):
    env = notify_env
    with scripted_receiver(["ok"]) as rx:
        routes = env.routes(f"""
endpoints: [{{name: json, url: "{rx.url}"}}]
routes: [{{name: mine, match: {{cluster: ["{env.cluster}"]}}, endpoints: [json],
          repeat_interval_s: 1.5}}]
""")
        worker = NotifyWorker(env.bootstrap, env.clickhouse_url, env.db, env.config(routes))
        with running(worker):
            publish(env.bootstrap, "aiops.incidents", "incident",
                    [incident(env.cluster, "rep-1")], "incident_id")
            wait_for(lambda: len(rx.accepted()) >= 3, 30, "two repeats")
            publish(env.bootstrap, "aiops.incidents", "incident",
                    [incident(env.cluster, "rep-1", status="RESOLVED", version=2)],
                    "incident_id")
            wait_for(lambda: any(r.json()["event"] == "RESOLVED" for r in rx.accepted()), 30,
                     "resolution")
            settled = len(rx.accepted())
            time.sleep(3.5)
        assert len(rx.accepted()) == settled  # no repeat after the resolution
    docs = [r.json() for r in rx.accepted()]
    firing = [d for d in docs if d["event"] == "OPEN"]
    assert [d["repeat"] for d in firing][:3] == [0, 1, 2]
    assert len({d["idempotency_key"] for d in docs}) == len(docs)
    gaps = [b.at - a.at for a, b in zip(rx.accepted(), rx.accepted()[1:3], strict=False)]
    assert all(g >= 1.3 for g in gaps)


def test_undecodable_input_is_dead_lettered_and_consumption_goes_on(notify_env, unique):
    env = notify_env
    topic = f"notify-in-{unique}"
    admin.apply(env.bootstrap, (Topic(topic, "test input", "incident", "incident_id", "test",
                                      partitions=1, replication=1),))
    producer = make_producer(env.bootstrap)
    producer.produce(topic, key=b"bad", value=b"\xc3\x01not avro at all")
    assert producer.flush(30) == 0
    with scripted_receiver(["ok"]) as rx:
        worker = NotifyWorker(env.bootstrap, env.clickhouse_url, env.db,
                              env.config(env.routes(_routes(env, rx.url).replace(
                                  ", secret_env: NOTIFY_TEST_SECRET", ""))),
                              inputs={topic: "incident"})
        with running(worker):
            publish(env.bootstrap, topic, "incident", [incident(env.cluster, "after-bad")],
                    "incident_id")
            wait_for(rx.accepted, 30, "the good record's delivery")
    (_, dead), = collect(env.bootstrap, "aiops.deadletter", "dead_letter",
                         lambda r: r["topic"] == topic, 1)
    assert dead["stage"] == "DECODE" and dead["component"] == "notify"
    assert dead["raw"] == b"\xc3\x01not avro at all" and dead["error"]
