"""Alertmanager webhook receiver fed by a real prometheus-alertmanager (Debian package)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.receivers.alertmanager import fingerprint, parse_time
from tests.receivers.conftest import collect, sample

pytestmark = pytest.mark.stack

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_parse_time_handles_nanoseconds_and_offsets():
    assert parse_time("2026-11-26T09:40:00.123456789Z") == 1795686000123
    assert parse_time("2026-11-26T10:40:00+01:00") == 1795686000000


@pytest.fixture()
def alertmanager(receiver, tmp_path):
    if BINARY is None:
        pytest.skip("prometheus-alertmanager not installed (apt-get install "
                    "prometheus-alertmanager)")
    url, metrics, cluster = receiver
    port = _free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(f"""
route:
  receiver: aiops
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: aiops
    webhook_configs:
      - url: {url}/alertmanager/webhook
        send_resolved: true
""")
    proc = subprocess.Popen(
        [BINARY, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "am.log").open("wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError((tmp_path / "am.log").read_text()[-2000:])
            time.sleep(0.2)
        yield base, metrics, cluster
    finally:
        proc.terminate()
        proc.wait(10)


def test_firing_then_resolved_reach_the_alert_topic(alertmanager, topics_ready, unique):
    base, metrics, cluster = alertmanager
    labels = {"alertname": f"HighLatency{unique}", "severity": "critical",
              "cluster": cluster, "service": "checkout"}
    start = datetime.now(UTC) - timedelta(seconds=5)
    alert = {"labels": labels, "annotations": {"summary": "p99 over 2s"},
             "startsAt": _rfc3339(start), "endsAt": _rfc3339(start + timedelta(hours=1)),
             "generatorURL": "http://prometheus/graph?g0.expr=latency"}
    assert httpx.post(f"{base}/api/v2/alerts", json=[alert]).status_code == 200
    (key, firing), = collect(topics_ready, "aiops.alerts", "alert",
                             lambda r: r["cluster"] == cluster, 1)
    assert firing["status"] == "FIRING" and firing["ends_at"] is None
    assert key == firing["fingerprint"].encode() == fingerprint(labels).encode()
    assert firing["alertname"] == labels["alertname"] and firing["severity"] == "critical"
    assert firing["annotations"] == {"summary": "p99 over 2s"}
    assert firing["receiver"] == "aiops" and firing["group_key"]
    assert abs(firing["starts_at"] - int(start.timestamp() * 1000)) <= 1

    ended = datetime.now(UTC)
    resolved_alert = {**alert, "endsAt": _rfc3339(ended)}
    assert httpx.post(f"{base}/api/v2/alerts", json=[resolved_alert]).status_code == 200
    found = collect(topics_ready, "aiops.alerts", "alert",
                    lambda r: r["cluster"] == cluster and r["status"] == "RESOLVED", 1)
    (rkey, resolved), = found
    assert rkey == key and resolved["fingerprint"] == firing["fingerprint"]
    assert abs(resolved["ends_at"] - int(ended.timestamp() * 1000)) <= 1
    assert sample(metrics, "aiops_receiver_samples_published_total", source="alertmanager",
                  signal="alerts") >= 2
