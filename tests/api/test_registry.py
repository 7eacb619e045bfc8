"""The topic-backed fleet registry: writes visible on return, derived states, events."""

from __future__ import annotations

import time

import pytest

from api.registry import derive_state
from schemas.codec import Codec
from streams.kafka.clients import make_consumer
from tests.api.data import cluster_record
from tests.api.sse import SseReader

pytestmark = pytest.mark.stack


def _topic_values(bootstrap: str, topic: str) -> dict[str, dict | None]:
    from confluent_kafka import TopicPartition

    consumer = make_consumer(bootstrap, f"t-{time.time_ns()}")
    meta = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, 0) for p in meta.topics[topic].partitions])
    out: dict[str, dict | None] = {}
    codec = Codec("cluster_record")
    idle = 0
    while idle < 3:
        msgs = consumer.consume(100, timeout=0.5)
        idle = 0 if msgs else idle + 1
        for m in msgs:
            if not m.error():
                out[m.key().decode()] = codec.decode(m.value()) if m.value() else None
    consumer.close()
    return out


def test_create_update_delete_visible_when_the_write_returns(api_env) -> None:
    body = {"name": "delta-1", "type": "EDGE", "environment": "staging", "region": "us-east",
            "labels": {"site": "lab"}, "capabilities": {"gpu_count": 4, "has_dpdk": True}}
    with api_env.client() as c:
        r = c.post("/api/v1/clusters", json=body)
        assert r.status_code == 201, r.text
        created = r.json()
        assert (created["state"], created["last_seen"]) == ("UNKNOWN", 0)
        assert c.get("/api/v1/clusters/delta-1").json()["type"] == "EDGE"
        assert c.get(f"/api/v1/clusters/by-id/{created['cluster_id']}").status_code == 200
        assert c.post("/api/v1/clusters", json=body).status_code == 409
        r = c.put("/api/v1/clusters/delta-1", json={**body, "region": "us-west"} | {
            "name": None})
        assert r.status_code == 200 and r.json()["region"] == "us-west"
        assert c.get("/api/v1/clusters/delta-1").json()["region"] == "us-west"
        on_topic = _topic_values(api_env.services.bootstrap, api_env.topics["clusters"])
        assert on_topic["delta-1"]["region"] == "us-west"
        assert on_topic["delta-1"]["capabilities"]["gpu_count"] == 4
        assert c.delete("/api/v1/clusters/delta-1").status_code == 204
        assert c.get("/api/v1/clusters/delta-1").status_code == 404
        assert _topic_values(api_env.services.bootstrap,
                             api_env.topics["clusters"])["delta-1"] is None
        bad = c.post("/api/v1/clusters", json={"name": "Bad Name!"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"


def test_list_filters_and_fleet_summary(api_env) -> None:
    with api_env.client() as c:
        def names(**params) -> list[str]:
            r = c.get("/api/v1/clusters", params=params)
            assert r.status_code == 200, r.text
            return [x["name"] for x in r.json()["items"]]

        assert names(has_gpu=True) == ["alpha", "bravo"]
        assert names(has_gpu=False) == ["charlie"]
        assert names(has_cnf=True) == ["alpha"]
        assert names(label="team=bravo") == ["bravo"]
        assert names(name="har") == ["charlie"]
        assert names(state="ONLINE", environment="production", type="SPOKE",
                     region="eu-west") == ["alpha", "bravo", "charlie"]
        assert names(state="OFFLINE") == []
        s = c.get("/api/v1/fleet/summary").json()
        assert s["clusters"] == 3 and s["by_state"]["ONLINE"] == 3
        assert (s["gpus"], s["gpu_clusters"], s["cnf_clusters"]) == (4, 2, 1)
        assert s["by_environment"] == {"production": 3} and s["average_health"] == 1.0
        h = c.get("/api/v1/fleet/health").json()
        assert h["healthy"] == 3 and len(h["clusters"]) == 3
        st = c.get("/api/v1/clusters/alpha/status").json()
        assert st["state"] == "ONLINE" and st["seconds_since_heartbeat"] < 600


def test_derive_state_rules() -> None:
    now = 1_000_000
    rec = {"last_seen": now - 1000, "status": "ONLINE", "health_score": 0.95}
    assert derive_state(rec, now, 90, 0.9) == "ONLINE"
    assert derive_state({**rec, "health_score": 0.5}, now, 90, 0.9) == "DEGRADED"
    assert derive_state({**rec, "status": "DEGRADED"}, now, 90, 0.9) == "DEGRADED"
    assert derive_state({**rec, "last_seen": now - 91_000}, now, 90, 0.9) == "OFFLINE"
    assert derive_state({**rec, "last_seen": 0}, now, 90, 0.9) == "UNKNOWN"
    assert derive_state({**rec, "status": "UNKNOWN"}, now, 90, 0.9) == "UNKNOWN"


def test_heartbeat_loss_emits_cluster_status_changed(api_env) -> None:
    registry = api_env.services.registry
    reader = SseReader(api_env.url, api_env.tokens["admin"],
                       {"type": ["CLUSTER_STATUS_CHANGED", "CLUSTER_UPSERTED"]})
    reader.start()
    assert reader.connected.wait(10)
    now = int(time.time() * 1000)
    # a heartbeat that goes stale 1.5 s from now (offline after 90 s)
    registry.put(cluster_record("echo-1", last_seen_ms=now - 88_500, health=0.5))
    assert registry.get("echo-1")["state"] == "DEGRADED"
    changed = reader.wait_for("CLUSTER_STATUS_CHANGED", timeout=15)
    reader.stop()
    assert reader.of("CLUSTER_UPSERTED")[0]["data"]["name"] == "echo-1"
    assert changed and changed[0]["data"] == {
        "name": "echo-1", "previous": "DEGRADED", "state": "OFFLINE", "health_score": 0.5,
        "last_seen": now - 88_500}
    with api_env.client() as c:
        assert c.get("/api/v1/clusters/echo-1").json()["state"] == "OFFLINE"
        assert c.delete("/api/v1/clusters/echo-1").status_code == 204
