"""Restart of the notifier mid-retry: a real ``aiops notify run`` process killed and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.notify.conftest import wait_for
from tests.notify.receiver import scripted_receiver
from tests.notify.records import incident, publish

pytestmark = pytest.mark.stack
REPO = Path(__file__).resolve().parents[2]


def _start(env, routes: Path, worker_id: str, log: Path) -> subprocess.Popen:
    environ = {**os.environ, "AIOPS_KAFKA_BOOTSTRAP": env.bootstrap,
               "AIOPS_CLICKHOUSE_URL": env.clickhouse_url, "AIOPS_CLICKHOUSE_DATABASE": env.db,
               "AIOPS_NOTIFY_GROUP": env.group, "AIOPS_NOTIFY_ROUTES": str(routes),
               "AIOPS_NOTIFY_METRICS_PORT": "0", "AIOPS_NOTIFY_BACKOFF_S": "0.5",
               "AIOPS_NOTIFY_MAX_BACKOFF_S": "1.0", "AIOPS_NOTIFY_BACKOFF_JITTER": "0.1",
               "AIOPS_NOTIFY_MAX_ATTEMPTS": "100", "AIOPS_NOTIFY_BREAKER_FAILURES": "1000",
               "AIOPS_NOTIFY_WORKER_ID": worker_id, "AIOPS_DATA_DIR": str(env.tmp / "data")}
    return subprocess.Popen([sys.executable, "-m", "streams.cli", "notify", "run"], cwd=REPO,
                            env=environ, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def test_kill_mid_retry_then_restart_delivers_each_notification_once(notify_env):
    env = notify_env
    ids = ["r-1", "r-2", "r-3"]
    with scripted_receiver(["500"]) as rx:
        routes = env.routes(f"""
endpoints: [{{name: hook, url: "{rx.url}", timeout_s: 2}}]
routes: [{{name: mine, match: {{cluster: ["{env.cluster}"]}}, endpoints: [hook]}}]
""")
        log = env.tmp / "notify.log"
        publish(env.bootstrap, "aiops.incidents", "incident",
                [incident(env.cluster, i) for i in ids], "incident_id")
        first = _start(env, routes, "run1", log)
        try:
            wait_for(lambda: len(env.rows(
                "SELECT idempotency_key FROM {db}.notification_attempts GROUP BY "
                "idempotency_key HAVING count() >= 2")) == 3, 90, "two failed tries each")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        before = Counter(dict(env.rows("SELECT idempotency_key, max(attempt) FROM "
                                       "{db}.notification_attempts GROUP BY idempotency_key")))
        # Published while no notifier runs: must not be lost.
        publish(env.bootstrap, "aiops.incidents", "incident",
                [incident(env.cluster, "r-4")], "incident_id")
        second = _start(env, routes, "run2", log)
        try:
            wait_for(lambda: env.rows("SELECT count() FROM {db}.notification_attempts "
                                      "WHERE worker = 'run2'")[0][0] >= 4, 90,
                     "retries by the restarted worker")
            rx.mode = "ok"
            wait_for(lambda: env.rows("SELECT count() FROM {db}.notification_deliveries FINAL "
                                      "WHERE state = 'DELIVERED'")[0][0] == 4, 60, "recovery")
            # Stay up a little: nothing more may be sent.
            time.sleep(1.5)
            assert second.poll() is None
            ok_before_stop = len(rx.accepted())
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
        assert second.returncode == 0, log.read_text()[-3000:]

    keys_ok = Counter(r.headers["Idempotency-Key"] for r in rx.accepted())
    assert ok_before_stop == len(rx.accepted()) == 4 and set(keys_ok.values()) == {1}
    rows = env.rows("SELECT idempotency_key, subject, status, attempt, worker FROM "
                    "{db}.notification_attempts ORDER BY timestamp")
    assert {r[1] for r in rows} == {f"incident:{i}" for i in [*ids, "r-4"]}
    assert Counter(r[0] for r in rows if r[2] == "OK") == keys_ok
    # Every attempt the receiver saw is in ClickHouse (one may have been in flight at the kill).
    failed_seen = Counter(r.headers["Idempotency-Key"] for r in rx.requests if r.mode != "ok")
    failed_logged = Counter(r[0] for r in rows if r[2] != "OK")
    missing = sum((failed_seen - failed_logged).values())
    assert missing <= 1 and not (failed_logged - failed_seen)
    # The restarted worker resumed the retry counts instead of starting over.
    for key, last in before.items():
        resumed = [r[3] for r in rows if r[0] == key and r[4] == "run2"]
        assert resumed and min(resumed) >= last, (key, last, resumed)
    states = dict(env.rows("SELECT subject, state FROM {db}.notification_deliveries FINAL"))
    assert set(states.values()) == {"DELIVERED"} and len(states) == 4
