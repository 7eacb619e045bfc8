"""Incidents as alerts on a real prometheus-alertmanager, which then notifies a webhook."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from streams.notify.worker import NotifyWorker
from tests.notify.conftest import running, wait_for
from tests.notify.receiver import scripted_receiver
from tests.notify.records import incident, publish, rca
from tests.receivers.test_alertmanager import BINARY, _free_port

pytestmark = pytest.mark.stack


@pytest.fixture()
def alertmanager_to_receiver(tmp_path):
    """(Alertmanager base URL, the scripted receiver it notifies)."""
    if BINARY is None:
        pytest.skip("prometheus-alertmanager not installed (apt-get install "
                    "prometheus-alertmanager)")
    with scripted_receiver(["ok"]) as rx:
        port = _free_port()
        config = tmp_path / "alertmanager.yml"
        config.write_text(f"""
route:
  receiver: hook
  group_by: [alertname, incident_id]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {rx.url}
        send_resolved: true
""")
        proc = subprocess.Popen(
            [BINARY, f"--config.file={config}", f"--storage.path={tmp_path / 'am'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "am.log").open("wb"))
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _ready(base) or proc.poll() is not None, 30, "alertmanager")
            assert proc.poll() is None, (tmp_path / "am.log").read_text()[-2000:]
            yield base, rx
        finally:
            proc.terminate()
            proc.wait(10)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _am_alerts(base: str, incident_id: str) -> list[dict]:
    alerts = httpx.get(f"{base}/api/v2/alerts", params={"filter": f'incident_id="{incident_id}"'},
                       timeout=5).json()
    return [a for a in alerts if a["status"]["state"] == "active"]


def test_open_refresh_and_resolve_through_alertmanager(notify_env, alertmanager_to_receiver):
    env = notify_env
    base, rx = alertmanager_to_receiver
    routes = env.routes(f"""
endpoints: [{{name: am, type: alertmanager, url: "{base}"}}]
routes: [{{name: mine, match: {{cluster: ["{env.cluster}"]}}, endpoints: [am]}}]
""")
    worker = NotifyWorker(env.bootstrap, env.clickhouse_url, env.db,
                          env.config(routes, am_refresh_s=1.0))
    with running(worker):
        publish(env.bootstrap, "aiops.incidents", "incident", [incident(env.cluster, "am-1")],
                "incident_id")
        firing = wait_for(lambda: [r.json() for r in rx.accepted()
                                   if r.json()["status"] == "firing"], 30, "firing webhook")
        doc = firing[0]
        assert doc["version"] == "4" and doc["receiver"] == "hook"
        (alert,) = doc["alerts"]
        assert alert["labels"] == {"alertname": "AIOpsIncident", "cluster": env.cluster,
                                   "namespace": "shop", "service": "checkout",
                                   "severity": "critical", "incident_id": "am-1"}
        assert alert["annotations"]["summary"] == "checkout latency am-1"
        assert alert["annotations"]["incident_url"] == "http://api.test/api/v1/incidents/am-1"

        publish(env.bootstrap, "aiops.rca", "rca_report", [rca(env.cluster, "am-1")],
                "incident_id")
        wait_for(lambda: any(a["annotations"].get("probable_cause") == "db-0 OOM-killed"
                             for a in _am_alerts(base, "am-1")), 30, "RCA annotations")
        first_end = _am_alerts(base, "am-1")[0]["endsAt"]
        time.sleep(4.0)  # longer than the 3 s TTL: only the refresh keeps it active
        (still,) = _am_alerts(base, "am-1")
        assert still["endsAt"] > first_end
        assert "runbook" in still["annotations"]

        publish(env.bootstrap, "aiops.incidents", "incident",
                [incident(env.cluster, "am-1", status="RESOLVED", version=2)], "incident_id")
        resolved = wait_for(lambda: [r.json() for r in rx.accepted()
                                     if r.json()["status"] == "resolved"], 30, "resolved")
        assert resolved[0]["alerts"][0]["labels"]["incident_id"] == "am-1"
        assert not _am_alerts(base, "am-1")
    kinds = dict(env.rows("SELECT kind, countIf(status = 'OK') FROM "
                          "{db}.notification_attempts GROUP BY kind"))
    assert kinds["deliver"] == 3 and kinds["refresh"] >= 2
