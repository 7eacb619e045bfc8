"""Live stream: SSE and WebSocket relay of the result topics with filters and scope."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from api.live import Event, Filters, LiveHub
from schemas.codec import Codec
from streams.kafka.clients import make_producer
from tests.api.sse import SseReader

pytestmark = pytest.mark.stack


def anomaly(cluster: str, namespace: str, n: int) -> dict:
    now = int(time.time() * 1000)
    return {"anomaly_id": f"live-{cluster}-{n}", "cluster": cluster, "entity_type": "SERIES",
            "entity": "x", "name": "node_load1", "labels": {"namespace": namespace},
            "series_id": 1, "type": "SPIKE", "actual": 5.0, "expected": 1.0, "lower": 0.0,
            "upper": 2.0, "score": 4.0, "confidence": 0.8, "severity": "HIGH",
            "detector": "ewma", "rule": None, "start_ts": now, "sample_ts": now,
            "detected_ts": now}


def incident(cluster: str) -> dict:
    now = int(time.time() * 1000)
    return {"incident_id": f"live-inc-{cluster}", "cluster": cluster, "status": "OPEN",
            "severity": "HIGH", "title": "t", "opened_ts": now, "updated_ts": now,
            "resolved_ts": None, "anomaly_ids": [], "alert_fingerprints": [], "entities": [],
            "namespaces": ["shop"], "services": [], "nodes": [], "summary": "", "version": 1}


def produce(api_env, kind: str, schema: str, records: list[dict]) -> None:
    producer = make_producer(api_env.services.bootstrap, **{"linger.ms": 0})
    codec = Codec(schema)
    for rec in records:
        producer.produce(api_env.topics[kind], codec.encode(rec), key=rec["cluster"].encode())
    assert producer.flush(10) == 0


def test_sse_filters_and_scope(api_env) -> None:
    readers = {
        "all": SseReader(api_env.url, api_env.tokens["admin"], {"type": "ANOMALY"}),
        "bravo_infra": SseReader(api_env.url, api_env.tokens["admin"],
                                 {"cluster": "bravo", "namespace": "infra"}),
        "scoped": SseReader(api_env.url, api_env.tokens["alpha"]),
        "scoped_asks_bravo": SseReader(api_env.url, api_env.tokens["alpha"],
                                       {"cluster": "bravo"}),
    }
    for r in readers.values():
        r.start()
    for r in readers.values():
        assert r.connected.wait(10)
    produce(api_env, "anomalies", "anomaly",
            [anomaly(c, ns, i) for i, (c, ns) in enumerate(
                [("alpha", "infra"), ("bravo", "infra"), ("bravo", "shop")])])
    produce(api_env, "incidents", "incident", [incident("bravo"), incident("alpha")])
    assert len(readers["all"].wait_for("ANOMALY", 3)) == 3
    readers["scoped"].wait_for("INCIDENT", 1)
    time.sleep(1.0)
    for r in readers.values():
        r.stop()
    assert [e["data"]["anomaly_id"] for e in readers["bravo_infra"].of("ANOMALY")] == [
        "live-bravo-1"]
    assert readers["bravo_infra"].of("INCIDENT") == []
    scoped = [e for k, e in readers["scoped"].events if k != "heartbeat"]
    assert {(e["type"], e["cluster"]) for e in scoped} == {("ANOMALY", "alpha"),
                                                           ("INCIDENT", "alpha")}
    assert [k for k, _ in readers["scoped_asks_bravo"].events if k != "heartbeat"] == []
    assert readers["all"].of("INCIDENT") == []


def test_websocket_relay_and_resubscribe(api_env) -> None:
    url = api_env.url.replace("http://", "ws://") + "/api/v1/stream/ws"
    headers = {"Authorization": f"Bearer {api_env.tokens['viewer']}"}
    with ws_connect(url + "?type=INCIDENT", additional_headers=headers) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "heartbeat"
        produce(api_env, "incidents", "incident", [incident("charlie")])
        msgs = [json.loads(ws.recv(timeout=10)) for _ in range(3)]
        events = [m["event"] for m in msgs if m["type"] == "event"]
        assert events and events[0]["type"] == "INCIDENT" and events[0]["cluster"] == "charlie"
        ws.send(json.dumps({"types": ["ANOMALY"], "clusters": ["alpha"]}))
        got = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and got is None:
            m = json.loads(ws.recv(timeout=10))
            if m["type"] == "subscribed":
                produce(api_env, "anomalies", "anomaly", [anomaly("bravo", "x", 7),
                                                          anomaly("alpha", "x", 8)])
            elif m["type"] == "event":
                got = m["event"]
        assert got is not None and got["data"]["anomaly_id"] == "live-alpha-8"
        ws.send("not json")
        while (m := json.loads(ws.recv(timeout=10)))["type"] != "error":
            pass


def test_websocket_refuses_missing_or_bad_tokens(api_env) -> None:
    url = api_env.url.replace("http://", "ws://") + "/api/v1/stream/ws"
    for suffix in ("", "?access_token=aiops_bad_token"):
        with pytest.raises(InvalidStatus), ws_connect(url + suffix):
            pass
    with ws_connect(f"{url}?access_token={api_env.tokens['alpha']}") as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "heartbeat"


def test_sse_rejects_unknown_event_types(api_env) -> None:
    with api_env.client() as c:
        r = c.get("/api/v1/stream/sse", params={"type": "BOGUS"})
    assert r.status_code == 400 and r.json()["error"]["details"]["allowed"]


def test_slow_client_drops_oldest_without_slowing_others() -> None:
    async def scenario() -> tuple[list[int], list[int], int, int]:
        hub = LiveHub(queue_size=5)
        hub.bind(asyncio.get_running_loop())
        slow = hub.subscribe(Filters())
        fast = hub.subscribe(Filters())
        received: list[int] = []
        for i in range(20):
            hub.publish(Event("ANOMALY", "alpha", (), {"i": i}, 0))
            await asyncio.sleep(0)
            received += [e.data["i"] for e in await fast.next_batch(1)]
        kept = [e.data["i"] for e in await slow.next_batch(1)]
        return received, kept, slow.new_drops(), fast.dropped

    received, kept, drops, fast_drops = asyncio.run(scenario())
    assert received == list(range(20)) and fast_drops == 0
    assert kept == [15, 16, 17, 18, 19] and drops == 15


def test_startup_heap_is_frozen_out_of_the_cyclic_gc(api_env) -> None:
    """Full collections over the start-up heap stalled the relay for 200-330 ms."""
    import gc

    assert gc.get_freeze_count() > 10_000
