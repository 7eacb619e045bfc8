"""``aiops rca`` against the session Kafka and ClickHouse: a cascading incident with its
history in ClickHouse becomes an RcaReport whose top cause is the culprit."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from connectors.clickhouse.client import connect
from schemas.codec import Codec
from streams.kafka.clients import make_producer
from streams.rca_service.telemetry import RcaTelemetry
from streams.rca_service.worker import RcaTopics, RcaWorker
from streams.settings import Settings
from tests.correlate.scenario import EDGES, alert, first_wave, history_database, read_all
from tests.correlate.scenario import second_wave as later_wave
from tests.rca_service.data import (
    incident,
    insert_alert,
    insert_anomalies,
    insert_edges,
    insert_span,
)

pytestmark = pytest.mark.stack
CLUSTER = "c-rca"


def _wait(bootstrap: str, topic: str, count: int, timeout: float = 60) -> list[dict]:
    end = time.monotonic() + timeout
    while True:
        reports = read_all(bootstrap, topic, "rca_report")
        if len(reports) >= count or time.monotonic() > end:
            return reports
        time.sleep(0.3)


def test_cascading_incident_gets_its_root_cause(stack, unique, tmp_path) -> None:
    database = f"rca_{unique}"
    history_database(stack.clickhouse_url, database, tmp_path / "migrations")
    t0 = int(time.time() * 1000) - 120_000
    cascade = [a for a in first_wave(CLUSTER, t0) + later_wave(CLUSTER, t0)
               if a["anomaly_id"] in ("redis-mem", "cart-latency", "frontend-errors")]
    redis_alert = alert(CLUSTER, "fp-redis", "FIRING", t0 + 3000)
    client = connect(stack.clickhouse_url)
    insert_anomalies(client, database, cascade)
    insert_edges(client, database, CLUSTER, list(EDGES), t0)
    insert_alert(client, database, redis_alert)
    insert_span(client, database, CLUSTER, "trace-redis", "redis", "cache", "redis-0",
                t0 + 2500, 900.0, True)
    insert_span(client, database, CLUSTER, "trace-other", "unrelated", "x", "u-0",
                t0 + 2500, 5000.0, True)
    client.close()

    names = RcaTopics(f"t.incidents.{unique}", f"t.rca.{unique}", f"t.dead.{unique}")
    admin = AdminClient({"bootstrap.servers": stack.bootstrap})
    for f in admin.create_topics([NewTopic(t, 1, 1) for t in (
            names.incidents, names.rca, names.deadletter)]).values():
        f.result(30)
    settings = Settings(clickhouse_database=database, llm_providers="", rca_history_wait_s=3)
    telemetry = RcaTelemetry()
    worker = RcaWorker(settings, stack.bootstrap, stack.clickhouse_url, topics=names,
                       telemetry=telemetry, group=f"rca-{unique}")
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        p = make_producer(stack.bootstrap)
        enc = Codec("incident")
        first = incident(CLUSTER, "inc-cascade", 1, cascade[:2])
        second = incident(CLUSTER, "inc-cascade", 2, cascade, alerts=("fp-redis",))
        for rec in (first,):
            p.produce(names.incidents, key=b"inc-cascade", value=enc.encode(rec))
        assert p.flush(30) == 0
        reports = _wait(stack.bootstrap, names.rca, 1)
        # A replay of v1, then v2, then a stale v1 again: one more report only.
        for rec in (first, second, first):
            p.produce(names.incidents, key=b"inc-cascade", value=enc.encode(rec))
        p.produce(names.incidents, key=b"bad", value=b"garbage")
        assert p.flush(30) == 0
        reports = _wait(stack.bootstrap, names.rca, 2)
        time.sleep(2.0)
        reports = read_all(stack.bootstrap, names.rca, "rca_report")
    finally:
        worker.stop()
        thread.join(30)

    assert [r["report_id"] for r in reports] == ["inc-cascade/v1", "inc-cascade/v2"]
    for r in reports:
        assert r["incident_id"] == "inc-cascade" and r["cluster"] == CLUSTER
        assert r["provider"] == "template" and r["model"] is None
        assert r["explanation"]["summary"] and r["explanation"]["remediation"]
        top = r["causes"][0]
        assert "redis" in top["entity"], [(c["entity"], c["score"]) for c in r["causes"]]
        assert top["evidence"], top
        assert [c["rank"] for c in r["causes"]] == list(range(1, len(r["causes"]) + 1))
    entities = [c["entity"] for c in reports[1]["causes"]]
    assert entities.index("shop/cart") > 0 and entities.index("web/frontend") > 0
    kinds = {e["kind"] for c in reports[1]["causes"] for e in c["evidence"]}
    assert "TOPOLOGY" in kinds
    refs = {e["ref"] for c in reports[1]["causes"] for e in c["evidence"]}
    assert "alert:fp-redis" in refs and "redis-mem" in refs
    redis_refs = {e["ref"] for c in reports[1]["causes"] if "redis" in c["entity"]
                  for e in c["evidence"]}
    assert "trace-redis" in redis_refs and "trace-other" not in refs
    dead = read_all(stack.bootstrap, names.deadletter, "dead_letter")
    assert [(d["raw"], d["stage"], d["component"]) for d in dead] == [
        (b"garbage", "decode", "rca")]
