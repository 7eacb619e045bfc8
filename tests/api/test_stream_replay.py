"""Resumable live streams: Last-Event-ID / since replay from Kafka, then live, exactly once."""

from __future__ import annotations

import doctest
import importlib
import json
import threading
import time
import uuid

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect as ws_connect

from api.cursor import CursorCodec
from api.live import Filters
from api.replay import Replayer, ReplayError, ReplayLimits
from schemas.codec import Codec
from streams.kafka.clients import make_producer
from tests.api.conftest import create_topics
from tests.api.sse import SseReader
from tests.api.test_stream import anomaly, incident

pytestmark = pytest.mark.stack


def produce(bootstrap: str, topic: str, schema: str, records: list[dict]) -> None:
    producer = make_producer(bootstrap, **{"linger.ms": 0})
    codec = Codec(schema)
    for rec in records:
        producer.produce(topic, codec.encode(rec), key=rec["cluster"].encode())
    assert producer.flush(10) == 0


def anomalies(api_env, cluster: str, tag: str, n: int) -> list[str]:
    """Produce ``n`` anomalies for ``cluster`` (one key: one partition, in order)."""
    recs = [anomaly(cluster, "shop", i) | {"anomaly_id": f"{tag}-{i}"} for i in range(n)]
    produce(api_env.services.bootstrap, api_env.topics["anomalies"], "anomaly", recs)
    return [r["anomaly_id"] for r in recs]


def ids_of(reader: SseReader, kind: str = "ANOMALY") -> list[str]:
    return [d["data"]["anomaly_id"] for k, d in reader.events if k == kind]


def last_event_id(reader: SseReader) -> str:
    return [i for (k, _), i in zip(reader.events, reader.ids, strict=True)
            if k == "ANOMALY"][-1]


def heartbeat_ids(reader: SseReader) -> list[str]:
    """Ids of heartbeats after the first ANOMALY (the first heartbeat has none)."""
    return [i for (k, _), i in zip(list(reader.events), list(reader.ids), strict=False)
            if k == "heartbeat" and i]


def reader(api_env, who: str = "admin", params: dict | None = None,
           resume: str | None = None) -> SseReader:
    r = SseReader(api_env.url, api_env.tokens[who], {"type": "ANOMALY", **(params or {})},
                  headers={"Last-Event-ID": resume} if resume else None)
    r.start()
    assert r.connected.wait(15)
    return r


@pytest.mark.parametrize("name", ["api.cursor", "api.replay"])
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0


def test_resume_with_last_event_id_replays_exactly_the_missed_then_live(api_env) -> None:
    first = reader(api_env)
    before = anomalies(api_env, "alpha", "r1", 3)
    assert len(first.wait_for("ANOMALY", 3)) == 3
    resume = last_event_id(first)
    assert resume and all(first.ids[i] for i, (k, _) in enumerate(first.events)
                          if k == "ANOMALY")
    first.stop()
    missed = anomalies(api_env, "alpha", "r2", 4)
    again = reader(api_env, resume=resume)
    assert again.status == 200
    again.wait_for("ANOMALY", 4)
    live = anomalies(api_env, "alpha", "r3", 2)
    again.wait_for("ANOMALY", 6)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not heartbeat_ids(again):
        time.sleep(0.1)
    again.stop()
    assert ids_of(first) == before
    assert ids_of(again) == missed + live
    # a heartbeat id is resumable too: nothing missed, nothing repeated
    beats = heartbeat_ids(again)
    assert beats
    quiet = reader(api_env, resume=beats[-1])
    time.sleep(1.5)
    quiet.stop()
    assert ids_of(quiet) == []


def test_switch_over_has_no_gap_and_no_duplicate(api_env) -> None:
    first = reader(api_env, params={"cluster": "bravo"})
    anomalies(api_env, "bravo", "s0", 1)
    first.wait_for("ANOMALY", 1)
    resume = last_event_id(first)
    first.stop()
    produced: list[str] = []
    done = threading.Event()

    def keep_producing() -> None:
        i = 0
        producer = make_producer(api_env.services.bootstrap, **{"linger.ms": 0})
        codec = Codec("anomaly")
        while not done.is_set():
            rec = anomaly("bravo", "shop", i) | {"anomaly_id": f"s1-{i}"}
            producer.produce(api_env.topics["anomalies"], codec.encode(rec), key=b"bravo")
            producer.flush(5)
            produced.append(rec["anomaly_id"])
            i += 1
            time.sleep(0.01)

    thread = threading.Thread(target=keep_producing, daemon=True)
    thread.start()
    time.sleep(0.5)  # some missed, some produced while replaying, some after
    again = reader(api_env, params={"cluster": "bravo"}, resume=resume)
    time.sleep(1.0)
    done.set()
    thread.join(10)
    again.wait_for("ANOMALY", len(produced))
    time.sleep(0.5)
    again.stop()
    assert len(produced) > 20
    assert ids_of(again) == produced


def test_since_replays_with_filters_and_scope(api_env) -> None:
    since = int(time.time() * 1000) - 1
    anomalies(api_env, "alpha", "t-alpha", 2)
    anomalies(api_env, "bravo", "t-bravo", 2)
    produce(api_env.services.bootstrap, api_env.topics["incidents"], "incident",
            [incident("alpha")])
    time.sleep(0.5)  # relayed: the replay must stop where the live stream starts
    scoped = reader(api_env, "alpha", {"since": str(since)})
    scoped_bravo = reader(api_env, "alpha", {"since": str(since), "cluster": "bravo"})
    admin_bravo = reader(api_env, "admin", {"since": str(since), "cluster": "bravo"})
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(since // 1000 - 1)) + "Z"
    everything = SseReader(api_env.url, api_env.tokens["admin"], {"since": iso})
    everything.start()
    assert everything.connected.wait(15)
    scoped.wait_for("ANOMALY", 2)
    admin_bravo.wait_for("ANOMALY", 2)
    everything.wait_for("INCIDENT", 1)
    time.sleep(1.0)
    for r in (scoped, scoped_bravo, admin_bravo, everything):
        r.stop()
    assert ids_of(scoped) == ["t-alpha-0", "t-alpha-1"]
    assert {d["cluster"] for k, d in scoped.events if k != "heartbeat"} == {"alpha"}
    assert [k for k, _ in scoped_bravo.events if k != "heartbeat"] == []
    assert ids_of(admin_bravo) == ["t-bravo-0", "t-bravo-1"]
    assert {"t-alpha-0", "t-bravo-1"} <= set(ids_of(everything))
    assert [d["cluster"] for d in everything.of("INCIDENT")] == ["alpha"]


def test_scoped_token_resuming_from_an_admin_id_sees_only_its_clusters(api_env) -> None:
    admin = reader(api_env)
    anomalies(api_env, "charlie", "u0", 1)
    admin.wait_for("ANOMALY", 1)
    resume = last_event_id(admin)
    admin.stop()
    anomalies(api_env, "bravo", "u1", 2)
    anomalies(api_env, "alpha", "u2", 2)
    time.sleep(0.5)
    scoped = reader(api_env, "alpha", resume=resume)
    scoped.wait_for("ANOMALY", 2)
    time.sleep(1.0)
    scoped.stop()
    assert ids_of(scoped) == ["u2-0", "u2-1"]
    assert {d["cluster"] for k, d in scoped.events if k != "heartbeat"} == {"alpha"}


def test_websocket_resume(api_env) -> None:
    url = api_env.url.replace("http://", "ws://") + "/api/v1/stream/ws?type=ANOMALY"
    headers = {"Authorization": f"Bearer {api_env.tokens['viewer']}"}
    with ws_connect(url, additional_headers=headers) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "heartbeat"
        anomalies(api_env, "alpha", "w0", 2)
        got = []
        while len(got) < 2:
            m = json.loads(ws.recv(timeout=10))
            if m["type"] == "event":
                got.append(m["event"])
    resume = got[-1]["id"]
    missed = anomalies(api_env, "alpha", "w1", 3)
    with ws_connect(f"{url}&last_event_id={resume}", additional_headers=headers) as ws:
        seen = []
        while len(seen) < 3:
            m = json.loads(ws.recv(timeout=10))
            if m["type"] == "event":
                seen.append(m["event"]["data"]["anomaly_id"])
    assert [e["data"]["anomaly_id"] for e in got] == ["w0-0", "w0-1"]
    assert seen == missed


def test_bad_positions_are_clear_errors(api_env) -> None:
    with api_env.client() as c:
        bad = c.get("/api/v1/stream/sse", headers={"Last-Event-ID": "not-an-id"})
        assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["error"]["message"]
        old = c.get("/api/v1/stream/sse", params={"since": "1000"})
        assert old.status_code == 410
        assert old.json()["error"]["code"] == "replay_out_of_range"
        junk = c.get("/api/v1/stream/sse", params={"since": "yesterday"})
        assert junk.status_code == 400
    url = api_env.url.replace("http://", "ws://") + "/api/v1/stream/ws?last_event_id=zzz"
    with ws_connect(url, additional_headers={
            "Authorization": f"Bearer {api_env.tokens['admin']}"}) as ws:
        msg = json.loads(ws.recv(timeout=10))
        assert msg["type"] == "error" and msg["code"] == "bad_request"
        with pytest.raises(ConnectionClosedError) as exc:
            ws.recv(timeout=10)
    assert exc.value.rcvd is not None and exc.value.rcvd.code == 4400


def test_replay_window_and_retention_limits(api_env) -> None:
    bootstrap = api_env.services.bootstrap
    topic = f"api.replay.{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, {topic: False})
    codec = CursorCodec([topic])
    routes = {topic: ("anomaly", "ANOMALY")}
    produce(bootstrap, topic, "anomaly", [anomaly("alpha", "x", i) for i in range(6)])
    # every record sits in the one partition of key "alpha"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    meta = admin.list_topics(topic, timeout=10).topics[topic].partitions
    part = next(p for p in meta if _high(bootstrap, topic, p) == 6)
    stop = {(topic, p): _high(bootstrap, topic, p) for p in meta}
    start_id = codec.encode({tp: 0 for tp in stop})
    narrow = Replayer(bootstrap, routes, codec, ReplayLimits(max_events=5, max_age_s=3600))
    with pytest.raises(ReplayError) as too_many:
        narrow.replay(stop, Filters(), last_event_id=start_id)
    assert too_many.value.status == 410 and too_many.value.code == "replay_window_exceeded"
    wide = Replayer(bootstrap, routes, codec, ReplayLimits(max_events=100, max_age_s=3600))
    events = wide.replay(stop, Filters(), last_event_id=start_id)
    assert [e.data["anomaly_id"] for e in events] == [f"live-alpha-{i}" for i in range(6)]
    assert codec.decode(events[-1].id) == stop
    # resuming from the third event replays the rest
    rest = wide.replay(stop, Filters(), last_event_id=events[2].id)
    assert [e.data["anomaly_id"] for e in rest] == [f"live-alpha-{i}" for i in range(3, 6)]
    for fut in admin.delete_records([TopicPartition(topic, part, 3)]).values():
        fut.result(30)
    with pytest.raises(ReplayError) as gone:
        wide.replay(stop, Filters(), last_event_id=start_id)
    assert gone.value.status == 410 and gone.value.code == "replay_out_of_range"
    assert [e.data["anomaly_id"] for e in wide.replay(
        stop, Filters(), last_event_id=events[2].id)] == [f"live-alpha-{i}" for i in (3, 4, 5)]


def _high(bootstrap: str, topic: str, partition: int) -> int:
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
    finally:
        c.close()
