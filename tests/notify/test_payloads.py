"""Payload shapes: Alertmanager v4 (accepted by our Alertmanager receiver), generic, Slack."""

from __future__ import annotations

import json

from connectors.notify.notification import from_incident, from_rca
from connectors.notify.payloads import am_alert, render
from connectors.receivers.alertmanager import alert_records
from tests.notify.records import incident, rca

API = "https://aiops.example.com"


def test_alertmanager_v4_payload_parses_as_a_webhook():
    inc = incident("prod", "i-9")
    note = from_rca(rca("prod", "i-9"), inc)
    body = json.loads(render("alertmanager", [note], key="k", receiver="oncall",
                             group_key="incident:i-9", api_base=API, now_ms=0))
    assert body["version"] == "4" and body["status"] == "firing"
    for field in ("groupKey", "truncatedAlerts", "receiver", "groupLabels", "commonLabels",
                  "commonAnnotations", "externalURL", "alerts"):
        assert field in body
    (rec,) = alert_records(body, default_cluster="x", now_ms=1)
    assert rec["status"] == "FIRING" and rec["cluster"] == "prod"
    assert rec["labels"] == {"alertname": "AIOpsIncident", "cluster": "prod",
                             "namespace": "shop", "service": "checkout",
                             "severity": "critical", "incident_id": "i-9"}
    assert rec["annotations"]["probable_cause"] == "db-0 OOM-killed"
    assert rec["annotations"]["runbook"] == "1. raise the memory limit\n2. restart db-0"
    assert rec["annotations"]["incident_url"] == f"{API}/api/v1/incidents/i-9"

    resolved = from_incident(incident("prod", "i-9", status="RESOLVED", version=2))
    body = json.loads(render("alertmanager", [resolved], key="k", receiver="oncall",
                             group_key="g", api_base=API, now_ms=0))
    (rec,) = alert_records(body, default_cluster="x", now_ms=1)
    assert rec["status"] == "RESOLVED" and rec["ends_at"] == resolved.ends_ts


def test_generic_payload_carries_full_incident_and_rca():
    note = from_rca(rca("prod", "i-3"), incident("prod", "i-3"))
    body = json.loads(render("generic", [note], key="abc", receiver="r", group_key="g",
                             api_base=API, now_ms=0))
    assert body["idempotency_key"] == "abc" and body["event"] == "RCA"
    assert body["incident"]["incident_id"] == "i-3" and body["incident"]["entities"]
    assert body["rca"]["causes"][0]["entity"] == "shop/db-0"
    assert body["links"] == {"incident_url": f"{API}/api/v1/incidents/i-3"}


def test_slack_text_payload():
    note = from_rca(rca("prod", "i-4"), incident("prod", "i-4"))
    body = json.loads(render("slack", [note], key="k", receiver="r", group_key="g",
                             api_base=API, now_ms=0))
    assert set(body) == {"text"}
    assert "*[RCA] CRITICAL*" in body["text"] and "db-0 OOM-killed" in body["text"]
    assert f"<{API}/api/v1/incidents/i-4|incident>" in body["text"]


def test_am_alert_firing_ends_after_ttl_and_resolved_ends_at_resolution():
    note = from_incident(incident("prod", "i-5"))
    alert = am_alert(note, api_base="", now_ms=1_000_000, ttl_ms=180_000)
    assert alert["endsAt"] == "1970-01-01T00:19:40.000Z"
    done = from_incident(incident("prod", "i-5", status="RESOLVED", version=2))
    assert am_alert(done, api_base="", now_ms=0, ttl_ms=1)["endsAt"].startswith("20")
