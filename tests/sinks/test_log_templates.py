"""The sink stores every log line with its Drain template id and parameters; restarts keep
the ids (miner state in ``log_miner_state``); a replayed batch adds nothing anywhere."""

from __future__ import annotations

import time
from typing import Any

import pytest

from connectors.clickhouse.client import connect
from connectors.sinks.base import Record
from connectors.sinks.clickhouse import ClickHouseSink
from connectors.sinks.tables import family_for
from schemas.codec import Codec
from streams.logs.templates import LogTemplateMiner, template_id
from tests.conftest import RunningStack

pytestmark = pytest.mark.stack

CODEC = Codec("log_batch")
TOPIC = "aiops.logs"


def log_batch(bodies: list[str], app: str = "cart", cluster: str = "c1",
              ts_ms: int | None = None) -> dict[str, Any]:
    now = ts_ms or int(time.time() * 1000)
    n = len(bodies)
    return {"batch_id": f"b-{now}-{n}", "cluster": cluster, "source": "test", "received_ts": now,
            "timestamps_ns": [now * 1_000_000 + i for i in range(n)],
            "labels": [{"namespace": "shop", "app": app, "pod": f"{app}-1"}] * n,
            "levels": ["INFO"] * n, "bodies": bodies, "trace_ids": [""] * n,
            "span_ids": [""] * n, "metadata": [{}] * n}


def write(stack: RunningStack, database: str, records: list[dict[str, Any]], first: int,
          partition: int = 0) -> ClickHouseSink:
    """A fresh sink (a restarted process) writes ``records`` at offsets ``first``... as one
    batch, like the sink worker does."""
    sink = ClickHouseSink(stack.clickhouse_url, database, {TOPIC: family_for("log_batch")})
    sink.setup()
    for i, rec in enumerate(records):
        record = Record(TOPIC, partition, first + i, b"c1/shop/cart", CODEC.encode(rec),
                        int(time.time() * 1000))
        decoded, rows = sink.decode(record)
        sink.add(record, decoded, rows)
    assert len(sink.flush(sink.ready(everything=True))) == 1
    return sink


def stored(stack: RunningStack, database: str) -> dict[str, tuple[str, list[str]]]:
    rows = connect(stack.clickhouse_url).query(
        f"SELECT body, template_id, template_params FROM `{database}`.logs").result_rows
    return {body: (tid, list(params)) for body, tid, params in rows}


def templates(stack: RunningStack, database: str) -> dict[str, tuple[str, int]]:
    rows = connect(stack.clickhouse_url).query(
        f"SELECT template_id, anyLast(template), sum(lines) FROM `{database}`.log_templates"
        " GROUP BY template_id").result_rows
    return {tid: (text, int(n)) for tid, text, n in rows}


def test_every_stored_line_has_its_template_and_parameters(
    stack: RunningStack, unique: str
) -> None:
    database = f"logtpl_{unique}"
    bodies = [f"user {u} logged in from 10.0.{u}.1" for u in range(5)]
    bodies += [f"GET /api/v1/orders/{i} took {i * 3}ms" for i in range(4)]
    bodies += ["cache warmed", "disk /dev/sda1 failed: 0x1f"]
    write(stack, database, [log_batch(bodies[:6]), log_batch(bodies[6:])], first=0)
    got = stored(stack, database)
    assert set(got) == set(bodies)
    assert all(tid for tid, _ in got.values())
    login = {got[b][0] for b in bodies[:5]}
    assert len(login) == 1 and login != {got[bodies[5]][0]}
    assert got[bodies[0]][1] == ["0", "10.0.0.1"] and got[bodies[4]][1] == ["4", "10.0.4.1"]
    assert got[bodies[8]][1] == ["/api/v1/orders/3", "9ms"]
    assert got["disk /dev/sda1 failed: 0x1f"][1] == ["/dev/sda1", "0x1f"]
    assert got["cache warmed"][1] == []
    texts = templates(stack, database)
    assert set(texts) == {tid for tid, _ in got.values()}
    (tid,) = login
    assert texts[tid] == ("user <NUM> logged in from <IP>", 5)
    assert tid == template_id("user <NUM> logged in from <IP>")
    assert sum(n for _, n in texts.values()) == len(bodies)
    # the same lines mined by the library in the same order give the same ids
    miner = LogTemplateMiner()
    assert [miner.add(b).template_id for b in bodies] == [got[b][0] for b in bodies]


def test_a_restarted_sink_keeps_template_ids_and_a_replay_adds_nothing(
    stack: RunningStack, unique: str
) -> None:
    database = f"logtpl_restart_{unique}"
    first = [log_batch(["connection to db-primary established"]),
             log_batch(["connection to db-replica established"])]
    write(stack, database, first, first=10)
    before = stored(stack, database)
    general = before["connection to db-replica established"][0]
    assert general == template_id("connection to <*> established")
    # restart: a new process restores the miner from log_miner_state; a line of the same
    # shape gets the generalised template's id (a cold miner would create a new template)
    write(stack, database, [log_batch(["connection to queue established"])], first=12)
    after = stored(stack, database)
    assert after["connection to queue established"] == (general, ["queue"])
    assert LogTemplateMiner().add("connection to queue established").template_id != general
    client = connect(stack.clickhouse_url)
    state = client.query(f"SELECT stream, offset FROM `{database}`.log_miner_state FINAL"
                         ).result_rows
    assert state == [("c1/shop/cart", 12)]  # no template changed at 12: not due
    counts = templates(stack, database)
    # replay of the first batch (same offsets: same tokens) by yet another process
    write(stack, database, first, first=10)
    assert int(client.command(f"SELECT count() FROM `{database}`.logs")) == 3
    assert templates(stack, database) == counts
    assert client.query(f"SELECT stream, offset FROM `{database}`.log_miner_state FINAL"
                        ).result_rows == [("c1/shop/cart", 12)]
    # a different partition is a different miner; the same text still has the same id
    write(stack, database, [log_batch(["connection to db-primary established"])], first=0,
          partition=1)
    assert int(client.command(f"SELECT count() FROM `{database}`.logs WHERE template_id = "
                              f"'{before['connection to db-primary established'][0]}'")) == 2


def test_replayed_lines_are_looked_up_not_mined_again(stack: RunningStack, unique: str) -> None:
    """A crash after the state was stored but before the commit: the replayed records are
    matched read-only, so the restored miner does not count them twice."""
    database = f"logtpl_lookup_{unique}"
    recs = [log_batch([f"job {i} done in {i}s" for i in range(10)])]
    sink = write(stack, database, recs, first=0)
    family = sink.families[TOPIC]
    size = sum(c.size for st in family.assigner.partitions[(TOPIC, 0)].values()
               for c in st.miner.miner.drain.id_to_cluster.values())
    assert size == 10
    again = ClickHouseSink(stack.clickhouse_url, database, {TOPIC: family_for("log_batch")})
    again.setup()
    record = Record(TOPIC, 0, 0, None, CODEC.encode(recs[0]), 0)
    decoded, _ = again.decode(record)
    again.families[TOPIC].prepare([decoded], lambda: again.client, database)
    restored = again.families[TOPIC].assigner.partitions[(TOPIC, 0)]
    assert sum(c.size for st in restored.values()
               for c in st.miner.miner.drain.id_to_cluster.values()) == 10


def test_api_patterns_show_the_stored_template_text(stack: RunningStack, unique: str) -> None:
    from api.db import ClickHousePool
    from api.queries import logs as q

    database = f"logtpl_api_{unique}"
    now = int(time.time() * 1000)
    bodies = [f"user {u} logged in from 10.0.0.{u}" for u in range(3)] + ["cache warmed"]
    write(stack, database, [log_batch(bodies, ts_ms=now)], first=0)
    where = q.where(clusters=["c1"], start_ms=now - 60_000, end_ms=now + 60_000, streams={},
                    labels=[], contains=None, regex=None, levels=None)
    pats = q.patterns(ClickHousePool(stack.clickhouse_url, database), where=where,
                      start_ms=now - 60_000, end_ms=now + 60_000, limit=10)
    assert [(p["template"], p["count"]) for p in pats] == [
        ("user <NUM> logged in from <IP>", 3), ("cache warmed", 1)]
    assert pats[0]["template_id"] == template_id("user <NUM> logged in from <IP>")
    lines = q.lines(ClickHousePool(stack.clickhouse_url, database), where=where,
                    direction="forward", limit=10)
    assert [x["template_params"] for x in lines][:2] == [["0", "10.0.0.0"], ["1", "10.0.0.1"]]
