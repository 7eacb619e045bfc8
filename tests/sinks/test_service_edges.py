"""Service edges join a child to its parent whatever batch, partition or sink process
brought either, and count every call exactly once (replays, crashes mid-slice, kill -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from connectors.clickhouse.client import connect
from connectors.sinks.base import Record
from connectors.sinks.clickhouse import ClickHouseSink
from connectors.sinks.service_edges import ServiceEdgeBuilder
from connectors.sinks.tables import family_for
from schemas.codec import Codec
from tests.conftest import REPO, RunningStack
from tests.sinks.load import create_topics
from tests.sinks.test_worker import wait_for
from tests.sinks.traces import EDGES_PER_TRACE, by_service, span_batch, trace_spans

pytestmark = pytest.mark.stack

CODEC = Codec("span_batch")
PARTITION = {"frontend": 0, "cart": 1, "payment": 2}


def minute_start_ns() -> int:
    """10 s into the current minute: a trace's spans never straddle a minute."""
    return time.time_ns() // 60_000_000_000 * 60_000_000_000 + 10_000_000_000


def write(sink: ClickHouseSink, service: str, payloads: list[bytes], first: int) -> None:
    """Write ``payloads`` as one batch of the service's partition (offsets from ``first``)."""
    for i, value in enumerate(payloads):
        record = Record("spans", PARTITION[service], first + i, None, value,
                        int(time.time() * 1000))
        decoded, rows = sink.decode(record)
        sink.add(record, decoded, rows)
    sink.flush(sink.ready(everything=True))


def edges(url: str, database: str) -> dict[tuple[str, str], tuple[int, int]]:
    rows = connect(url).query(
        f"SELECT parent_service, child_service, sum(calls), sum(errors) "
        f"FROM `{database}`.service_edges GROUP BY 1, 2").result_rows
    return {(p, c): (int(n), int(e)) for p, c, n, e in rows}


def count(url: str, database: str, table: str) -> int:
    try:
        return int(connect(url).command(f"SELECT count() FROM `{database}`.`{table}`"))
    except Exception:  # noqa: BLE001 - not created yet
        return -1


def test_children_before_parents_in_other_batches_are_joined_once(
    stack: RunningStack, unique: str
) -> None:
    database = f"edges_{unique}"
    sink = ClickHouseSink(stack.clickhouse_url, database, {"spans": family_for("span_batch")})
    sink.setup()
    builder = ServiceEdgeBuilder(lambda: sink.client, database)
    start = minute_start_ns()
    spans = by_service([s for t in range(20) for s in trace_spans(t, start, error=t % 5 == 0)])

    # leaves first, each service in its own batch and partition, the roots last
    write(sink, "payment", [CODEC.encode(span_batch("c1", spans["payment"]))], first=0)
    assert builder.catch_up() == 0
    write(sink, "cart", [CODEC.encode(span_batch("c1", spans["cart"]))], first=0)
    assert builder.catch_up() == 1
    assert edges(stack.clickhouse_url, database) == {("cart", "payment"): (20, 0)}
    roots = [CODEC.encode(span_batch("c1", spans["frontend"]))]
    write(sink, "frontend", roots, first=0)
    assert builder.catch_up() == 1
    expected = {("frontend", "cart"): (20, 4), ("cart", "payment"): (20, 0)}
    assert edges(stack.clickhouse_url, database) == expected

    # a replayed batch (same offsets, same token) adds no spans, so no slice is due
    write(sink, "frontend", roots, first=0)
    assert count(stack.clickhouse_url, database, "spans") == 80
    assert builder.run() is None

    # a builder that dies after inserting a slice's edges but before recording it done:
    # the next one redoes the same slice with the same token, which ClickHouse drops
    more = by_service([s for t in range(20, 30) for s in trace_spans(t, start)])
    write(sink, "cart", [CODEC.encode(span_batch("c1", more["cart"] + more["payment"]))],
          first=1)
    write(sink, "frontend", [CODEC.encode(span_batch("c1", more["frontend"]))], first=1)
    piece = builder.next_slice()
    assert piece is not None and not piece.done
    sink.client.insert_arrow(f"`{database}`.service_edges", builder.edges(piece), settings={
        "insert_deduplicate": 1, "async_insert": 0,
        "insert_deduplication_token": piece.token})
    restarted = ServiceEdgeBuilder(lambda: sink.client, database)
    assert restarted.next_slice() == piece  # the intent is picked up again
    restarted.catch_up()
    assert edges(stack.clickhouse_url, database) == {
        ("frontend", "cart"): (30, 4), ("cart", "payment"): (30, 0)}
    assert restarted.run() is None


def sink_process(stack: RunningStack, topic: str, database: str, group: str,
                 log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AIOPS_KAFKA_BOOTSTRAP": stack.bootstrap,
           "AIOPS_CLICKHOUSE_URL": stack.clickhouse_url, "AIOPS_CLICKHOUSE_DATABASE": database,
           "AIOPS_SINK_GROUP": group, "AIOPS_SINK_BATCH_ROWS": "400",
           "AIOPS_SINK_BATCH_MAX_AGE_S": "0.2", "AIOPS_SINK_EDGES_INTERVAL_S": "0.3",
           "AIOPS_LOG_FORMAT": "json", "AIOPS_SINK_INSTANCE_ID": f"{group}-0"}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "sink", "--topic", f"{topic}=span_batch",
             "--dlq-topic", f"{topic}-dlq", "--metrics-port", "0"],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def produce(producer: Producer, topic: str, cluster: str, spans: list[dict],
            services: tuple[str, ...], per_msg: int = 8) -> int:
    """Each service's spans in messages of ``per_msg`` spans on its own partition."""
    groups = by_service(spans)
    sent = 0
    for service in services:
        rows = groups[service]
        for i in range(0, len(rows), per_msg):
            part = rows[i:i + per_msg]
            producer.produce(topic, key=f"{cluster}/{service}".encode(),
                             value=CODEC.encode(span_batch(cluster, part)),
                             partition=PARTITION[service])
            sent += len(part)
    assert producer.flush(30) == 0
    return sent


def test_sink_processes_join_spans_across_partitions_restarts_and_kill_9(
    stack: RunningStack, unique: str, tmp_path: Path
) -> None:
    topic, database, group = f"spans-{unique}", f"edges_k_{unique}", f"ge-{unique}"
    create_topics(stack.bootstrap, {topic: 3, f"{topic}-dlq": 1})
    producer = Producer({"bootstrap.servers": stack.bootstrap})
    log = tmp_path / "sink.log"
    url = stack.clickhouse_url
    start = minute_start_ns()
    first = [s for t in range(60) for s in trace_spans(t, start, error=t % 6 == 0)]
    second = [s for t in range(60, 120) for s in trace_spans(t, start)]

    # 1. the children of the first traces reach one sink process, which then dies
    sent = produce(producer, topic, "c1", first, ("payment", "cart"))
    proc = sink_process(stack, topic, database, group, log)
    try:
        wait_for(lambda: count(url, database, "spans") == sent, 90, "child spans")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert edges(url, database).get(("frontend", "cart")) is None
        # 2. their parents, and whole new traces (children first), reach the next ones;
        # the second is killed right after it wrote something
        sent += produce(producer, topic, "c1", first, ("frontend",))
        sent += produce(producer, topic, "c1", second, ("payment", "cart", "frontend"))
        proc = sink_process(stack, topic, database, group, log)
        wait_for(lambda: count(url, database, "spans") > 180, 90, "more spans")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc = sink_process(stack, topic, database, group, log)
        wait_for(lambda: count(url, database, "spans") >= sent, 90, "every span")
        wanted = {edge: (120 * n, 10 if edge == ("frontend", "cart") else 0)
                  for edge, n in EDGES_PER_TRACE.items()}
        wait_for(lambda: edges(url, database) == wanted, 60, "every edge")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert count(url, database, "spans") == sent
    assert edges(url, database) == wanted
