"""The local stack: CLI lifecycle, crash safety, Kafka 3.9, external servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from confluent_kafka import Producer

from connectors.clickhouse.client import connect
from schemas.codec import Codec, raw_schema
from streams.kafka import admin
from streams.stack.manager import LocalStack
from tests.avro_data import sample_record
from tests.conftest import RunningStack, local_settings
from tests.kafka.test_roundtrip import consume_keys

pytestmark = pytest.mark.stack


def _cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    env.update(AIOPS_DATA_DIR=str(data_dir), AIOPS_KAFKA_PORT="0",
               AIOPS_CLICKHOUSE_HTTP_PORT="0", AIOPS_CLICKHOUSE_TCP_PORT="0",
               AIOPS_KAFKA_HEAP="512m")
    if "AIOPS_CACHE_DIR" in os.environ:
        env["AIOPS_CACHE_DIR"] = os.environ["AIOPS_CACHE_DIR"]
    return env


def _aiops(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_cli_up_status_down(tmp_path: Path) -> None:
    env = _cli_env(tmp_path / "cli")
    started = time.monotonic()
    up = _aiops(env, "stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        status = _aiops(env, "stack", "status", "--json")
        elapsed = time.monotonic() - started
        assert status.returncode == 0, status.stdout + status.stderr
        doc = json.loads(status.stdout)
        assert doc["healthy"] is True
        assert {c["name"] for c in doc["components"]} == {"kafka", "clickhouse"}
        assert doc["kafka_bootstrap"].startswith("127.0.0.1:")
        assert doc["clickhouse_http_url"].startswith("http://127.0.0.1:")
        assert doc["clickhouse_tcp_address"].startswith("127.0.0.1:")
        assert elapsed < 60, f"stack healthy only after {elapsed:.0f}s"
        table = _aiops(env, "stack", "status")
        assert "healthy" in table.stdout and "clickhouse" in table.stdout
    finally:
        down = _aiops(env, "stack", "down")
    assert down.returncode == 0
    after = _aiops(env, "stack", "status", "--json")
    assert after.returncode == 1
    assert json.loads(after.stdout)["healthy"] is False


def test_clickhouse_survives_kill_9(tmp_path: Path) -> None:
    stack = LocalStack(local_settings(tmp_path / "crash"))
    stack.up(timeout=120)
    try:
        client = connect(stack.clickhouse_url())
        client.command("CREATE DATABASE IF NOT EXISTS crash")
        client.command("CREATE TABLE crash.t (id UInt64, v String) ENGINE = MergeTree ORDER BY id")
        table = pa.table({"id": pa.array(range(50_000), pa.uint64()),
                          "v": pa.array([f"row-{i}" for i in range(50_000)])})
        client.insert_arrow("crash.t", table)
        old_pid = stack.load_state().clickhouse_pid
        stack.kill_clickhouse()
        assert not Path(f"/proc/{old_pid}").exists() or b"clickhouse_server" not in Path(
            f"/proc/{old_pid}/cmdline").read_bytes()
        stack.up(timeout=120)
        client = connect(stack.clickhouse_url())
        assert client.command("SELECT count() FROM crash.t") == 50_000
        assert client.command("SELECT sum(id) FROM crash.t") == sum(range(50_000))
    finally:
        stack.down()


def test_kafka_39_still_works(tmp_path: Path) -> None:
    stack = LocalStack(local_settings(tmp_path / "k39", kafka_version="3.9.1"))
    stack.up(timeout=240)
    try:
        bootstrap = stack.kafka_bootstrap()
        assert stack.load_state().kafka_version == "3.9.1"
        admin.apply(bootstrap)
        assert admin.plan(bootstrap) == []
        codec = Codec("anomaly")
        record = sample_record(raw_schema("anomaly"), 11)
        producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
        producer.produce("aiops.anomalies", key=b"k39-0", value=codec.encode(record))
        assert producer.flush(30) == 0
        (msg,) = consume_keys(bootstrap, "aiops.anomalies", "k39", "k39-", 1)
        assert codec.decode(msg.value()) == record
    finally:
        stack.down()


def test_external_servers_start_nothing(stack: RunningStack, tmp_path: Path) -> None:
    env = _cli_env(tmp_path / "external")
    env["AIOPS_KAFKA_BOOTSTRAP"] = stack.bootstrap
    env["AIOPS_CLICKHOUSE_URL"] = stack.clickhouse_url
    up = _aiops(env, "stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    status = json.loads(_aiops(env, "stack", "status", "--json").stdout)
    assert status["healthy"] is True
    assert all(not c["managed"] and c["pid"] is None for c in status["components"])
    assert not (tmp_path / "external" / "kafka").exists()
    assert not (tmp_path / "external" / "clickhouse").exists()


def test_unsupported_kafka_version_is_refused(tmp_path: Path) -> None:
    env = _cli_env(tmp_path / "bad")
    env["AIOPS_KAFKA_VERSION"] = "2.8.0"
    result = _aiops(env, "stack", "up")
    assert result.returncode == 1
    assert "not supported" in result.stdout


def test_help_lists_every_command() -> None:
    result = subprocess.run([sys.executable, "-m", "streams.cli", "--help"],
                            capture_output=True, text=True, check=True)
    for command in ("stack", "topics", "db"):
        assert command in result.stdout
