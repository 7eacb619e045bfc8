"""Logs over the real broker into ClickHouse with the detect worker beside the sink: every
stored line has its template id and parameters, anomalies name the stored ids, a restarted
sink keeps the ids, and a replay from an intent duplicates nothing."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import migrate
from connectors.sinks.base import Intent
from schemas.codec import Codec
from streams.detect.worker import DetectWorker, WorkerConfig
from streams.kafka.clients import make_consumer, make_producer
from streams.logs.templates import template_id
from streams.sink.worker import SinkWorker
from tests.detect.test_worker_stack import _drain
from tests.sinks.test_log_templates import log_batch

pytestmark = pytest.mark.stack

LINES = 50  # per record = the sink's max_rows: every batch is one record, so a replay
# rebuilds exactly the same batches (and tokens) even without intents
PLACEHOLDER = re.compile(r"<(?:\*|[A-Z]+)>")
SERVICES = ("db-primary", "db-replica", "cache", "queue", "search")


def lines(app: str, start: int, n: int = LINES) -> list[str]:
    out = []
    for i in range(start, start + n):
        out.append((f"user {i} logged in from 10.0.{i % 250}.1",
                    f"GET /api/v1/{app}/{i} took {i % 90}ms",
                    f"connection to {SERVICES[i % 5]} established (attempt {i})",
                    f"worker {app}-{i % 3} heartbeat ok seq={i}")[i % 4])
    return out


def produce(bootstrap: str, topic: str, records: list[tuple[str, list[str]]]) -> None:
    p = make_producer(bootstrap)
    codec = Codec("log_batch")
    for app, bodies in records:
        p.produce(topic, key=f"c1/shop/{app}".encode(), value=codec.encode(log_batch(bodies, app)))
    assert p.flush(30) == 0


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Running:
    """A worker in a thread."""

    def __init__(self, worker: SinkWorker | DetectWorker) -> None:
        self.worker = worker
        self.thread = threading.Thread(target=worker.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(60)
        assert not self.thread.is_alive()


def rebuilt(body: str, template: str, params: list[str]) -> bool:
    """The line again from its template and parameters."""
    it = iter(params)
    return PLACEHOLDER.sub(lambda _m: next(it, "\x00"), template) == body


def test_logs_through_detect_and_sink_keep_template_ids(stack, unique) -> None:
    t = {k: f"lp.{k}.{unique}" for k in ("logs", "metrics", "anomalies", "dead", "state")}
    admin = AdminClient({"bootstrap.servers": stack.bootstrap})
    new = [NewTopic(t["logs"], 2, 1), NewTopic(t["metrics"], 1, 1),
           NewTopic(t["anomalies"], 1, 1), NewTopic(t["dead"], 1, 1),
           NewTopic(t["state"], 1, 1, config={"cleanup.policy": "compact"})]
    for f in admin.create_topics(new).values():
        f.result(30)
    database, group = f"logpipe_{unique}", f"sink-{unique}"
    apps = ("cart", "pay")
    # 12 records (600 lines) per app: past the detector's warm-up of 500 lines; then one
    # record per app whose first line has a shape never seen before
    first = [(app, lines(app, k * LINES)) for k in range(12) for app in apps]
    novel = [(app, [f"panic: {app} ledger checksum mismatch"] + lines(app, 600)[1:])
             for app in apps]
    produce(stack.bootstrap, t["logs"], first + novel)
    total = (len(first) + len(novel)) * LINES

    def sink() -> Running:
        return Running(SinkWorker(stack.bootstrap, stack.clickhouse_url, database,
                                  {t["logs"]: "log_batch"}, group=group, max_rows=LINES,
                                  max_age_s=0.2, dlq_topic=t["dead"]))

    detect = Running(DetectWorker(WorkerConfig(
        bootstrap=stack.bootstrap, group=f"detect-{unique}", metrics_topic=t["metrics"],
        gpu_topic=None, logs_topic=t["logs"], anomalies_topic=t["anomalies"],
        deadletter_topic=t["dead"], state_topic=t["state"], poll_timeout_s=0.2)))
    client = connect(stack.clickhouse_url)
    migrate(client, database)  # the sink does it too; the checks below query at once
    s1 = sink()

    def count(table: str = "logs", what: str = "count()") -> int:
        return int(client.command(f"SELECT {what} FROM `{database}`.{table}"))

    try:
        wait_for(lambda: count() == total, 90, "every line in ClickHouse")
    finally:
        s1.stop()
    rows = client.query(
        f"SELECT l.app, l.body, l.template_id, l.template_params, t.template"
        f" FROM `{database}`.logs AS l LEFT JOIN (SELECT template_id, anyLast(template)"
        f" AS template FROM `{database}`.log_templates GROUP BY template_id) AS t"
        " USING template_id").result_rows
    assert len(rows) == total
    bad = [r for r in rows if not r[2] or not rebuilt(r[1], r[4], list(r[3]))]
    assert not bad, bad[:5]
    ids = {(app, body): tid for app, body, tid, _, _ in rows}
    assert count("log_templates", "sum(lines)") == total

    # the detect worker mined the same templates: its new-template anomalies name stored ids
    found = _drain(stack.bootstrap, t["anomalies"], "anomaly", len(apps), timeout=60)
    detect.stop()
    breaks = {(a["labels"]["app"], a["labels"]["template_id"]) for a in found
              if a["detector"] == "drain_new_template"}
    assert {(app, ids[(app, f"panic: {app} ledger checksum mismatch")]) for app in apps} <= breaks
    assert {tid for _, tid in breaks} <= set(ids.values())

    # a restarted sink (same group) restores the miners: same shapes, same ids (a cold
    # miner would start the connection lines with a new, not yet generalised template)
    later = [(app, lines(app, 1000)) for app in apps]
    produce(stack.bootstrap, t["logs"], later)
    s2 = sink()
    try:
        wait_for(lambda: count() == total + len(later) * LINES, 60, "the later lines")
    finally:
        s2.stop()
    ids = {(app, body): tid for app, body, tid in client.query(
        f"SELECT app, body, template_id FROM `{database}`.logs").result_rows}
    for app in apps:
        for shape in range(4):
            before = {ids[(app, b)] for i, b in enumerate(lines(app, 550), 550) if i % 4 == shape}
            after = {ids[(app, b)] for i, b in enumerate(lines(app, 1000), 1000)
                     if i % 4 == shape}
            assert len(before) == 1 and after == before, (app, shape, before, after)
    assert ids[("cart", lines("cart", 1000)[2])] == template_id(
        "connection to <*> established (attempt <NUM>)")

    # replay everything from offset 0 through an intent: same batches, same tokens
    before = (count(), count("log_templates", "sum(lines)"))
    c = make_consumer(stack.bootstrap, group)
    c.commit(offsets=[TopicPartition(t["logs"], p, 0, metadata=Intent(0, 0).encode())
                      for p in range(2)], asynchronous=False)
    c.close()
    s3 = sink()
    try:
        wait_for(lambda: s3.worker.telemetry.rows.labels("logs")._value.get()
                 >= total + len(later) * LINES, 60, "the replay")
    finally:
        s3.stop()
    assert (count(), count("log_templates", "sum(lines)")) == before
