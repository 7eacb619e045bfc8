"""Reading a run back: incidents, reports, spans and counts from ClickHouse; truth from Kafka."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import migrate
from schemas.codec import Codec
from streams.kafka.clients import make_producer
from streams.scorecard.matching import score
from streams.scorecard.sources import faults_from_topic, results_from_clickhouse
from tests.conftest import RunningStack

pytestmark = pytest.mark.stack
T0 = (int(time.time()) // 3600 - 3) * 3_600_000  # recent: the metrics TTL is 30 days
MIN = 60_000


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def test_results_and_truth_round_trip(stack: RunningStack, unique: str) -> None:
    db = f"score_{unique}"
    migrate(connect(stack.clickhouse_url), db)
    client = connect(stack.clickhouse_url, db)
    client.insert("metrics", [["hub-000", "up", 1, _dt(T0 + i * 15_000), 1.0, "GAUGE"]
                              for i in range(240)],
                  column_names=["cluster", "name", "series_id", "timestamp", "value", "type"])
    inc_cols = ["timestamp", "opened_ts", "incident_id", "cluster", "status", "severity",
                "title", "entities", "summary", "version", "anomaly_ids", "alert_fingerprints"]
    client.insert("incidents", [
        [_dt(T0 + 11 * MIN), _dt(T0 + 11 * MIN), "i1", "hub-000", "OPEN", "HIGH", "cpu", [],
         "", 1, ["a1"], []],
        [_dt(T0 + 12 * MIN), _dt(T0 + 11 * MIN), "i1", "hub-000", "UPDATED", "HIGH", "cpu",
         ["POD:boutique/checkout-1"], "", 2, ["a1", "a2"], ["fp1"]],
        [_dt(T0 + 50 * MIN), _dt(T0 + 50 * MIN), "i2", "hub-000", "OPEN", "LOW", "noise", [],
         "", 1, [], []]], column_names=inc_cols)
    client.insert("anomalies", [[_dt(T0 + m * MIN), _dt(T0 + m * MIN), aid, "hub-000"]
                                for aid, m in (("a1", 11), ("a2", 13), ("other", 14))],
                  column_names=["timestamp", "start_ts", "anomaly_id", "cluster"])
    client.insert("alerts", [[_dt(T0 + 10 * MIN), _dt(T0 + 10 * MIN), "hub-000", "fp1",
                              "FIRING"]],
                  column_names=["timestamp", "starts_at", "cluster", "fingerprint", "status"])
    causes = [{"rank": 1, "entity_type": "NODE", "entity": "worker-1"},
              {"rank": 2, "entity_type": "POD", "entity": "boutique/checkout-1"}]
    client.insert("rca_reports", [[_dt(T0 + 12 * MIN), "r1", "i1", "hub-000",
                                   json.dumps(causes), "CPU saturation"]],
                  column_names=["timestamp", "report_id", "incident_id", "cluster", "causes",
                                "probable_cause"])
    topic = f"truth-{unique}"
    admin = AdminClient({"bootstrap.servers": stack.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    record = {"fault_id": "f1", "kind": "cpu_saturation", "cluster": "hub-000",
              "start_ts": T0 + 10 * MIN, "end_ts": T0 + 14 * MIN, "root_cause_type": "POD",
              "root_cause": "boutique/checkout-1", "affected": ["POD:boutique/checkout-1"],
              "parameters": {}, "signals": [], "seed": 1}
    producer = make_producer(stack.bootstrap)
    for _ in range(2):  # a replayed record collapses by fault_id
        producer.produce(topic, key=b"hub-000", value=Codec("fault_record").encode(record))
    assert producer.flush(30) == 0

    faults = faults_from_topic(stack.bootstrap, topic)
    results = results_from_clickhouse(connect(stack.clickhouse_url), db)
    assert [f.fault_id for f in faults] == ["f1"]
    assert results.rows_stored == 240 and results.dead_letters == 0
    assert results.spans == {"hub-000": (T0, T0 + 239 * 15_000)}
    assert {i.incident_id: i.entities for i in results.incidents} == {
        "i1": ("POD:boutique/checkout-1",), "i2": ()}
    assert {i.incident_id: (i.member_ts, i.alert_ts) for i in results.incidents} == {
        "i1": ((T0 + 11 * MIN, T0 + 13 * MIN), (T0 + 10 * MIN,)), "i2": ((), ())}
    assert results.anomalies == 3
    card = score(faults, results.incidents, results.reports, results.spans)
    verdict = card.faults[0]
    assert verdict.detected and verdict.cause_rank == 2 and not verdict.top1 and verdict.top3
    assert verdict.time_to_detect_s == 0.0  # its alert member started with the fault
    assert verdict.detected_by_anomaly and verdict.anomaly_time_to_detect_s == 60.0
    assert card.false_incidents == ["i2"]
    windowed = results_from_clickhouse(connect(stack.clickhouse_url), db,
                                       window=(T0, T0 + 20 * MIN))
    assert [i.incident_id for i in windowed.incidents] == ["i1"]
    assert windowed.rows_stored == 20 * 4 + 1
