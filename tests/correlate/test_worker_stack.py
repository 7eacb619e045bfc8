"""``aiops correlate`` (the real Faust worker, in a subprocess) against the session Kafka.

Two unrelated faults and one cascading fault become three incidents with the right
members and severities; the worker is killed mid-stream and restarted, records are
replayed, and still no incident is duplicated; all three resolve after the quiet period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from connectors.clickhouse.client import connect
from schemas.codec import Codec
from streams.correlate.grouping import incident_id
from streams.correlate.members import from_anomaly
from streams.kafka.clients import make_producer
from tests.conftest import REPO
from tests.correlate.scenario import (
    EDGES,
    alert,
    first_wave,
    history_database,
    read_all,
    second_wave,
)

pytestmark = pytest.mark.stack

QUIET_S = 4.0


def _topics(bootstrap: str, unique: str) -> dict[str, str]:
    names = {k: f"t.{k}.{unique}" for k in ("anomalies", "alerts", "incidents", "dead")}
    parts = {"anomalies": 6, "alerts": 3, "incidents": 3, "dead": 1}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(names[k], parts[k], 1) for k in names])
    for f in futures.values():
        f.result(30)
    return names


def _graph(clickhouse_url: str, database: str, scratch: Path) -> None:
    history_database(clickhouse_url, database, scratch)
    client = connect(clickhouse_url)
    minute = int(time.time()) // 60 * 60 - 60
    client.insert(f"`{database}`.service_edges",
                  [[minute, CLUSTER, a, b, 100, 0, 10**9] for a, b in EDGES],
                  column_names=["timestamp", "cluster", "parent_service", "child_service", "calls",
                      "errors", "duration_ns_sum"])
    client.close()


CLUSTER = "c-corr"
# Each wait returns as soon as its condition holds; the bound only has to outlast a
# loaded CI machine (a restarted Faust worker first waits out the killed member's session).
WAIT_S = 300


def _start(stack, names: dict[str, str], database: str, app_id: str, tmp: Path,
           log: Path) -> subprocess.Popen:
    env = dict(os.environ,
               AIOPS_KAFKA_BOOTSTRAP=stack.bootstrap, AIOPS_CLICKHOUSE_URL=stack.clickhouse_url,
               AIOPS_CLICKHOUSE_DATABASE=database, AIOPS_DATA_DIR=str(tmp),
               AIOPS_CORRELATE_APP_ID=app_id, AIOPS_CORRELATE_QUIET_S=str(QUIET_S),
               AIOPS_CORRELATE_TICK_S="0.5", AIOPS_CORRELATE_CALLGRAPH_REFRESH_S="2",
               AIOPS_CORRELATE_PARTITIONS="6", AIOPS_LOG_LEVEL="INFO",
               # each fault's first (HIGH) member opens its incident alone here; minimum
               # evidence is tested without Faust (test_minimum_evidence.py)
               AIOPS_CORRELATE_OPEN_SIGNALS="1")
    cmd = [sys.executable, "-m", "streams.cli", "correlate", "--metrics-port", "0",
           "--anomalies-topic", names["anomalies"], "--alerts-topic", names["alerts"],
           "--incidents-topic", names["incidents"], "--deadletter-topic", names["dead"]]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)


def _wait(stack, topic: str, predicate, timeout: float, proc, log: Path) -> list[dict]:
    end = time.monotonic() + timeout
    while True:
        records = read_all(stack.bootstrap, topic, "incident")
        if predicate(records):
            return records
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"worker exited {proc.returncode}:\n{log.read_text()[-20000:]}")
        if time.monotonic() > end:
            pytest.fail(f"timed out; {len(records)} records:\n{log.read_text()[-20000:]}")
        time.sleep(0.5)


def _latest(records: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in records:
        if r["incident_id"] not in out or r["version"] >= out[r["incident_id"]]["version"]:
            out[r["incident_id"]] = r
    return out


def _produce(bootstrap: str, topic: str, codec: str, records: list[dict], key: str) -> None:
    p = make_producer(bootstrap)
    enc = Codec(codec)
    for r in records:
        p.produce(topic, key=r[key].encode(), value=enc.encode(r))
    assert p.flush(30) == 0


@pytest.mark.timeout(900)
def test_incidents_group_resolve_and_survive_a_restart(stack, unique, tmp_path) -> None:
    names = _topics(stack.bootstrap, unique)
    database = f"corr_{unique}"
    _graph(stack.clickhouse_url, database, tmp_path / "migrations")
    app_id = f"corr-{unique}"
    log = tmp_path / "worker.log"
    t0 = int(time.time() * 1000) - 60_000
    wave1, wave2 = first_wave(CLUSTER, t0), second_wave(CLUSTER, t0)
    expected_ids = {a["anomaly_id"]: incident_id(from_anomaly(a)) for a in wave1}

    proc = _start(stack, names, database, app_id, tmp_path, log)
    try:
        _produce(stack.bootstrap, names["anomalies"], "anomaly", wave1, "cluster")
        bad = make_producer(stack.bootstrap)
        bad.produce(names["anomalies"], key=CLUSTER.encode(), value=b"not avro")
        assert bad.flush(30) == 0
        first = _wait(stack, names["incidents"], lambda rs: len(_latest(rs)) >= 3,
                      WAIT_S, proc, log)
        _produce(stack.bootstrap, names["alerts"], "alert",
                 [alert(CLUSTER, "fp-redis", "FIRING", t0 + 3000)], "fingerprint")
        _wait(stack, names["incidents"], lambda rs: any(r["alert_fingerprints"] for r in rs),
              WAIT_S, proc, log)
        # Crash mid-stream: no graceful shutdown, no final commit.
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        # While it is down: the rest, plus a replay of the first wave.
        _produce(stack.bootstrap, names["anomalies"], "anomaly", wave2 + wave1, "cluster")
        proc = _start(stack, names, database, app_id, tmp_path, log)
        _wait(stack, names["incidents"],
              lambda rs: sum(len(r["anomaly_ids"]) for r in _latest(rs).values()) >= 6,
              WAIT_S, proc, log)
        # The alert resolves; the quiet period then resolves every incident.
        _produce(stack.bootstrap, names["alerts"], "alert",
                 [alert(CLUSTER, "fp-redis", "RESOLVED", t0 + 3000, t0 + 40_000)],
                 "fingerprint")
        records = _wait(stack, names["incidents"],
                        lambda rs: all(r["status"] == "RESOLVED" for r in _latest(rs).values()),
                        WAIT_S, proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    latest = _latest(records)
    assert len(latest) == 3, {k: (v["anomaly_ids"], v["alert_fingerprints"], v["version"])
                              for k, v in latest.items()}
    assert {r["cluster"] for r in records} == {CLUSTER}
    # Stable ids: derived from each fault's first member, the same across the restart.
    assert set(latest) == set(expected_ids.values())
    assert {r["incident_id"] for r in first} == set(latest)
    gpu = latest[expected_ids["gpu-xid"]]
    ptp = latest[expected_ids["ptp-offset"]]
    cascade = latest[expected_ids["redis-mem"]]
    assert sorted(gpu["anomaly_ids"]) == ["gpu-temp", "gpu-xid"]
    assert gpu["severity"] == "HIGH" and gpu["nodes"] == ["n1"]
    assert ptp["anomaly_ids"] == ["ptp-offset"] and ptp["severity"] == "CRITICAL"
    assert sorted(cascade["anomaly_ids"]) == ["cart-latency", "frontend-errors", "redis-mem"]
    assert cascade["alert_fingerprints"] == ["fp-redis"]
    assert cascade["severity"] == "CRITICAL"
    assert sorted(cascade["services"]) == ["cache/redis", "shop/cart", "web/frontend"]
    # Lifecycle: OPEN first, UPDATED in between, RESOLVED last; versions never fork.
    by_id: dict[str, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        by_id[r["incident_id"]][r["version"]].append(r)
    for iid, versions in by_id.items():
        assert versions[1][0]["status"] == "OPEN", iid
        assert versions[max(versions)][0]["status"] == "RESOLVED", iid
        for v, copies in versions.items():
            members = {(tuple(sorted(c["anomaly_ids"])), tuple(c["alert_fingerprints"]),
                        c["status"]) for c in copies}
            assert len(members) == 1, (iid, v, members)
            if 1 < v < max(versions):
                assert copies[0]["status"] == "UPDATED"
    dead = read_all(stack.bootstrap, names["dead"], "dead_letter")
    assert [(d["topic"], d["raw"], d["component"]) for d in dead] == [
        (names["anomalies"], b"not avro", "correlate")]
    # No member counted twice across incidents.
    members = [a for r in latest.values() for a in r["anomaly_ids"]]
    assert len(members) == len(set(members)) == 6
