"""The sink end to end on the real broker and ClickHouse: exact counts through crashes
(kill -9 of the sink, a dead ClickHouse), dead letters for bad records."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from connectors.clickhouse.client import connect
from schemas.codec import Codec
from streams.ops_server import readiness
from streams.sink.worker import SinkWorker
from streams.stack.manager import LocalStack
from streams.stack.ports import free_port
from tests.conftest import REPO, RunningStack, local_settings
from tests.sinks.load import MetricLoad, create_topics

pytestmark = pytest.mark.stack


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def rows(url: str, database: str, table: str = "metrics") -> int:
    try:
        return int(connect(url).command(f"SELECT count() FROM `{database}`.`{table}`"))
    except Exception:  # noqa: BLE001 - server down or table not created yet
        return -1


def rolled_up(client, database: str) -> tuple[int, ...]:
    return tuple(int(client.command(f"SELECT sum(count) FROM `{database}`.`{table}`"))
                 for table in ("metrics_1m", "metrics_1h"))


def assert_exact(url: str, database: str, expected: int) -> None:
    """Raw rows exact; the rollups (built by the sink every 0.5 s or at shutdown) too."""
    client = connect(url)
    total, distinct = client.query(
        f"SELECT count(), uniqExact(series_id, timestamp) FROM `{database}`.metrics"
    ).result_rows[0]
    assert (total, distinct) == (expected, expected)
    wait_for(lambda: rolled_up(client, database) >= (expected, expected), 60, "rollups")
    time.sleep(1.0)  # a slice counted twice would show up now
    assert rolled_up(client, database) == (expected, expected)


def dlq_offsets(bootstrap: str, topic: str, expected: int) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{topic}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    codec = Codec("dead_letter")
    seen: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(set(seen)) < expected:
        for msg in consumer.consume(100, timeout=0.5):
            if not msg.error():
                seen.append(codec.decode(msg.value())["offset"])
    consumer.close()
    return seen


def test_records_and_dead_letters_reach_their_tables(stack: RunningStack, unique: str) -> None:
    topic, dlq, database = f"m-{unique}", f"dlq-{unique}", f"sinkw_{unique}"
    create_topics(stack.bootstrap, {topic: 3, dlq: 1})
    load = MetricLoad(stack.bootstrap, topic, messages=60, rate=1000, garbage_every=20)
    load.run()
    worker = SinkWorker(stack.bootstrap, stack.clickhouse_url, database,
                        {topic: "metric_batch", dlq: "dead_letter"}, group=f"g-{unique}",
                        max_rows=500, max_age_s=0.2, dlq_topic=dlq, rollup_interval_s=0.5,
                        rollup_1h_interval_s=0.5)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_for(lambda: rows(stack.clickhouse_url, database, "dead_letters") == load.garbage,
                 60, "dead letters in ClickHouse")
        wait_for(lambda: rows(stack.clickhouse_url, database) == load.rows, 60, "metrics")
    finally:
        worker.stop()
        thread.join(60)
    assert_exact(stack.clickhouse_url, database, load.rows)
    reasons = connect(stack.clickhouse_url).query(
        f"SELECT DISTINCT topic, stage, error_type, component FROM `{database}`.dead_letters"
    ).result_rows
    assert reasons == [(topic, "DECODE", "UnknownSchemaError", "sink")]
    assert worker.telemetry.rows.labels("metrics")._value.get() == load.rows
    assert worker.telemetry.rows.labels("series")._value.get() == load.rows  # one per series
    assert worker.telemetry.dead_letters.labels(topic, "DECODE")._value.get() == 3
    # the rollup builder ran in this (only) sink and reported its position
    telemetry = worker.telemetry
    exposed = {(s.name, s.labels.get("table")): s.value
               for m in telemetry.registry.collect() for s in m.samples}
    for table in ("metrics_1m", "metrics_1h"):
        assert exposed[("aiops_sink_rollup_lag_blocks", table)] == 0
        assert exposed[("aiops_sink_rollup_built_block", table)] >= 1
        assert exposed[("aiops_sink_rows_inserted_total", table)] > 0
        assert 0 <= exposed[("aiops_sink_rollup_lag_seconds", table)] < 120


def sink_process(stack: RunningStack, topic: str, dlq: str, database: str, group: str,
                 log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AIOPS_KAFKA_BOOTSTRAP": stack.bootstrap,
           "AIOPS_CLICKHOUSE_URL": stack.clickhouse_url, "AIOPS_CLICKHOUSE_DATABASE": database,
           "AIOPS_SINK_GROUP": group, "AIOPS_SINK_BATCH_ROWS": "2000",
           "AIOPS_SINK_BATCH_MAX_AGE_S": "0.3", "AIOPS_LOG_FORMAT": "json",
           "AIOPS_SINK_INSTANCE_ID": f"{group}-0",
           # kills land amid rollup slices too
           "AIOPS_HISTORY_ROLLUP_INTERVAL_S": "0.5", "AIOPS_HISTORY_ROLLUP_1H_INTERVAL_S": "0.7"}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "sink", "--topic", f"{topic}=metric_batch",
             "--dlq-topic", dlq, "--metrics-port", "0"],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def test_kill_9_mid_batch_under_load_loses_and_duplicates_nothing(
    stack: RunningStack, unique: str, tmp_path: Path
) -> None:
    topic, dlq, database = f"m9-{unique}", f"dlq9-{unique}", f"sinkk_{unique}"
    create_topics(stack.bootstrap, {topic: 4, dlq: 1})
    load = MetricLoad(stack.bootstrap, topic, messages=3000, samples=50, rate=100,
                      garbage_every=200)
    load.start()
    rng = random.Random(unique)
    log = tmp_path / "sink.log"
    proc = sink_process(stack, topic, dlq, database, f"g9-{unique}", log)
    kills = 0
    try:
        # crash right after each incarnation wrote something, until several crashes landed
        # between an intent commit and its insert/commit (the next one logs the replay)
        while kills < 5 or (log.read_bytes().count(b"replaying intent") < 2 and kills < 20):
            before = rows(stack.clickhouse_url, database)
            if load.done.is_set() and before >= load.rows:
                break  # nothing left to write: no batch to crash in
            wait_for(lambda b=before: rows(stack.clickhouse_url, database) > max(b, 0), 180,
                     "the sink to write")
            time.sleep(rng.uniform(0.0, 0.3))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            proc = sink_process(stack, topic, dlq, database, f"g9-{unique}", log)
        load.join()
        wait_for(lambda: rows(stack.clickhouse_url, database) >= load.rows, 300, "all rows")
        time.sleep(1.0)  # anything duplicated late would show up now
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert kills >= 5
    assert log.read_bytes().count(b"replaying intent") >= 1, f"no kill mid-batch in {kills}"
    assert_exact(stack.clickhouse_url, database, load.rows)
    # dead letters are at least once: every bad offset is there
    seen = dlq_offsets(stack.bootstrap, dlq, load.garbage)
    assert len(set(seen)) == load.garbage


def test_clickhouse_down_under_load_pauses_then_resumes_without_loss(
    stack: RunningStack, unique: str, tmp_path: Path
) -> None:
    topic, dlq, database = f"mdown-{unique}", f"dlqdown-{unique}", f"sinkd_{unique}"
    create_topics(stack.bootstrap, {topic: 3, dlq: 1})
    own = LocalStack(local_settings(tmp_path / "ch", kafka_bootstrap=stack.bootstrap,
                                    clickhouse_http_port=free_port(),
                                    clickhouse_tcp_port=free_port()))
    own.up(timeout=120)
    url = own.clickhouse_url()
    worker = SinkWorker(stack.bootstrap, url, database, {topic: "metric_batch"},
                        group=f"gd-{unique}", max_rows=2000, max_age_s=0.3, dlq_topic=dlq,
                        rollup_interval_s=0.5, rollup_1h_interval_s=0.5)
    thread = threading.Thread(target=worker.run)
    load = MetricLoad(stack.bootstrap, topic, messages=1200, samples=50, rate=150)
    try:
        thread.start()
        load.start()
        wait_for(lambda: rows(url, database) > 0, 60, "first rows")
        own.kill_clickhouse()
        wait_for(lambda: worker.paused, 30, "the sink to pause")
        time.sleep(2.0)
        assert worker.paused and worker.telemetry.failures._value.get() >= 1
        assert "consumption paused" in readiness()[1]["clickhouse"]  # /ready answers 503
        own.up(timeout=120)
        assert own.clickhouse_url() == url
        load.join()
        wait_for(lambda: rows(url, database) >= load.rows, 120, "all rows after the restart")
        assert not worker.paused
        assert "clickhouse" not in readiness()[1]
        time.sleep(1.0)
        assert_exact(url, database, load.rows)
    finally:
        worker.stop()
        thread.join(60)
        own.down()
