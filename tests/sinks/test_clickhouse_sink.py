"""Every family lands in its table; replays with the same token insert nothing twice."""

from __future__ import annotations

import time

import pytest

from connectors.clickhouse.client import connect
from connectors.sinks.base import Record
from connectors.sinks.clickhouse import ClickHouseSink
from connectors.sinks.metric_rollups import build_rollups
from connectors.sinks.retention import apply_ttls, current_ttl_days
from connectors.sinks.service_edges import ServiceEdgeBuilder
from connectors.sinks.tables import FAMILIES, family_for
from schemas.codec import Codec
from tests.conftest import RunningStack
from tests.sinks.records import fresh_record, metrics

pytestmark = pytest.mark.stack

EXPECTED_ROWS = {  # schema -> (table, rows produced by fresh_record seeds 0..4)
    "alert": "alerts", "anomaly": "anomalies", "incident": "incidents",
    "rca_report": "rca_reports", "cluster_record": "clusters", "dead_letter": "dead_letters",
}


def make_sink(stack: RunningStack, database: str, schemas: list[str], **kw) -> ClickHouseSink:
    sink = ClickHouseSink(stack.clickhouse_url, database,
                          {s: family_for(s) for s in schemas}, **kw)
    sink.setup()
    return sink


def add(sink: ClickHouseSink, topic: str, payloads: list[bytes | None], partition: int = 0,
        first: int = 0, key: bytes | None = None) -> None:
    for i, value in enumerate(payloads):
        record = Record(topic, partition, first + i, key, value, int(time.time() * 1000))
        decoded, rows = sink.decode(record)
        sink.add(record, decoded, rows)


def count(client, database: str, table: str, final: bool = False) -> int:
    return int(client.command(
        f"SELECT count() FROM `{database}`.`{table}`{' FINAL' if final else ''}"))


@pytest.mark.parametrize("schema", sorted(FAMILIES))
def test_random_valid_records_of_every_schema_are_stored(
    stack: RunningStack, unique: str, schema: str
) -> None:
    database = f"sink_{unique}"
    sink = make_sink(stack, database, [schema])
    records = [fresh_record(schema, seed) for seed in range(5)]
    add(sink, schema, [Codec(schema).encode(r) for r in records])
    batch = sink.ready(everything=True)[0]
    tables = sink.convert(batch)
    sink.insert(batch, tables)
    client = connect(stack.clickhouse_url)
    for table, data in tables.items():
        assert count(client, database, table) == data.num_rows, table
    if schema in EXPECTED_ROWS:
        assert count(client, database, EXPECTED_ROWS[schema]) == 5


def test_a_replayed_batch_is_dropped_by_its_token_including_rollups(
    stack: RunningStack, unique: str
) -> None:
    database = f"sink_replay_{unique}"
    client = connect(stack.clickhouse_url)
    now = int(time.time() * 1000)
    day = 86_400_000
    # two scrapes a day apart: one insert block, two day partitions
    payloads = [Codec("metric_batch").encode(metrics("c1", "t", 200, ts))
                for ts in (now - day, now)]
    tables = ("metrics", "metrics_1m", "metrics_1h")
    for attempt in range(3):
        sink = make_sink(stack, database, ["metric_batch"])
        add(sink, "metric_batch", payloads, first=40)
        sink.flush(sink.ready(everything=True))
        build_rollups(lambda: client, database)  # as the sink's builders do
        got = {t: count(client, database, t) for t in tables}
        if attempt == 0:
            first = got
        assert got == first
    assert first["metrics"] == 400
    labeled = client.query(
        f"SELECT count(), any(name) FROM `{database}`.metrics_labeled "
        "WHERE labels['pod'] = 'pod-3'").result_rows[0]
    assert labeled == (2, "container_cpu_usage_seconds_total")
    series = client.command(f"SELECT count() FROM `{database}`.series FINAL")
    assert int(series) == 200
    agg = client.query(
        f"SELECT sum(count), avgMerge(avg) FROM `{database}`.metrics_1h").result_rows[0]
    assert agg[0] == 400
    # a different offset range is new data
    sink = make_sink(stack, database, ["metric_batch"])
    add(sink, "metric_batch", payloads, first=42)
    sink.flush(sink.ready(everything=True))
    assert count(client, database, "metrics") == 800


def test_rollups_hold_min_max_avg_quantiles(stack: RunningStack, unique: str) -> None:
    database = f"sink_rollup_{unique}"
    sink = make_sink(stack, database, ["metric_batch"])
    minute = int(time.time()) // 60 * 60 * 1000
    payloads = [Codec("metric_batch").encode(metrics("c1", "t", 1, minute + i * 1000,
                                                     value=float(i))) for i in range(10)]
    add(sink, "metric_batch", payloads)
    sink.flush(sink.ready(everything=True))
    build_rollups(lambda: sink.client, database)
    row = connect(stack.clickhouse_url).query(
        f"SELECT min(min), max(max), avgMerge(avg), quantilesTDigestMerge(0.5, 0.9, 0.99)"
        f"(quantiles)[1], argMaxMerge(last), sum(count) FROM `{database}`.metrics_1m"
    ).result_rows[0]
    assert row[0] == 0.0 and row[1] == 9.0 and row[2] == pytest.approx(4.5)
    assert 3.0 <= row[3] <= 6.0 and row[4] == 9.0 and row[5] == 10


def test_cluster_tombstone_deletes_and_versions_replace(stack: RunningStack, unique: str) -> None:
    database = f"sink_clusters_{unique}"
    sink = make_sink(stack, database, ["cluster_record"])
    codec = Codec("cluster_record")
    older = {**fresh_record("cluster_record", 1), "name": "edge-1", "record_version": 1}
    newer = {**older, "region": "eu-2", "record_version": 2}
    keep = {**older, "name": "hub", "record_version": 5}
    add(sink, "cluster_record", [codec.encode(r) for r in (older, newer, keep)])
    sink.flush(sink.ready(everything=True))
    client = connect(stack.clickhouse_url)
    rows = client.query(f"SELECT name, region FROM `{database}`.clusters FINAL ORDER BY name"
                        ).result_rows
    assert rows == [("edge-1", "eu-2"), ("hub", keep["region"])]
    add(sink, "cluster_record", [None], first=3, key=b"edge-1")
    sink.flush(sink.ready(everything=True))
    assert client.query(f"SELECT name FROM `{database}`.clusters FINAL").result_rows == [("hub",)]


def test_spans_feed_traces_and_service_edges(stack: RunningStack, unique: str) -> None:
    database = f"sink_spans_{unique}"
    sink = make_sink(stack, database, ["span_batch"])
    now_ns = time.time_ns()
    batch = {
        "batch_id": "b", "cluster": "c1", "source": "otlp", "received_ts": now_ns // 10**6,
        "trace_ids": ["a" * 32] * 3, "span_ids": ["1" * 16, "2" * 16, "3" * 16],
        "parent_span_ids": ["", "1" * 16, "2" * 16],
        "services": ["frontend", "cart", "cart"], "operations": ["GET /", "get", "db"],
        "kinds": ["SERVER", "SERVER", "INTERNAL"],
        "start_ns": [now_ns, now_ns + 5_000_000, now_ns + 9_000_000],
        "duration_ns": [1000, 500, 100], "status_codes": ["OK", "ERROR", "UNSET"],
        "status_messages": ["", "boom", ""], "attributes": [{"http.method": "GET"}, {}, {}],
        "resources": [{"k8s.namespace.name": "shop"}] * 3,
    }
    add(sink, "span_batch", [Codec("span_batch").encode(batch)])
    sink.flush(sink.ready(everything=True))
    assert ServiceEdgeBuilder(lambda: sink.client, database).catch_up() == 1
    client = connect(stack.clickhouse_url)
    edges = client.query(f"SELECT parent_service, child_service, sum(calls), sum(errors) "
                         f"FROM `{database}`.service_edges GROUP BY 1, 2").result_rows
    assert edges == [("frontend", "cart", 1, 1)]
    trace = client.query(f"SELECT min(start), max(end), sum(spans) FROM `{database}`.traces "
                         f"WHERE trace_id = '{'a' * 32}'").result_rows[0]
    assert trace[2] == 3
    grafana = client.query(f"SELECT traceID, spanID, parentSpanID, serviceName, operationName, "
                           f"duration FROM `{database}`.grafana_traces ORDER BY startTime"
                           ).result_rows
    assert grafana[0][:5] == ("a" * 32, "1" * 16, "", "frontend", "GET /")
    assert grafana[0][5] == pytest.approx(0.001)


def test_rejected_data_is_dead_lettered_record_by_record(stack: RunningStack,
                                                          unique: str) -> None:
    database = f"sink_reject_{unique}"
    rejected = []
    sink = make_sink(stack, database, ["anomaly"],
                     reject=lambda record, exc, stage: rejected.append((record.offset, stage)))
    good = fresh_record("anomaly", 1)
    bad = {**fresh_record("anomaly", 2), "labels": {"k": "\udcff"}}  # unencodable string
    codec = Codec("anomaly")
    add(sink, "anomaly", [codec.encode(good), codec.encode({**good, "anomaly_id": "x"})])
    batch = sink.ready(everything=True)[0]
    batch.items[1] = (batch.items[1][0], bad)
    sink.flush([batch])
    assert rejected == [(1, "PROCESS")]
    assert count(connect(stack.clickhouse_url), database, "anomalies") == 1


def test_ttls_follow_settings(stack: RunningStack, unique: str) -> None:
    database = f"sink_ttl_{unique}"
    make_sink(stack, database, ["metric_batch"])
    client = connect(stack.clickhouse_url)
    assert current_ttl_days(client, database, "metrics") == 30
    assert apply_ttls(client, database, {"metrics": 7, "metrics_1h": 400}) == ["metrics"]
    assert current_ttl_days(client, database, "metrics") == 7
    assert apply_ttls(client, database, {"metrics": 7}) == []
