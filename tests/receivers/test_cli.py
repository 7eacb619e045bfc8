"""``aiops receive`` serves the receivers and reaches Kafka."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import REPO
from tests.receivers.conftest import collect

pytestmark = pytest.mark.stack


def test_aiops_receive_cli(topics_ready, unique, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "AIOPS_KAFKA_BOOTSTRAP": topics_ready, "AIOPS_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "receive", "--host", "127.0.0.1", "--port",
         str(port), "--cluster", f"cli-{unique}"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "err").open("wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                (tmp_path / "err").read_text())
            time.sleep(0.2)
        body = {"streams": [{"stream": {"app": "x"}, "values": [[str(time.time_ns()), "hi"]]}]}
        assert httpx.post(f"{base}/loki/api/v1/push", json=body).status_code == 204
        assert httpx.get(f"{base}/health").json() == {"status": "ok"}
        assert "aiops_receiver_samples_published_total" in httpx.get(f"{base}/metrics").text
    finally:
        proc.terminate()
        proc.wait(20)
    (key, rec), = collect(topics_ready, "aiops.logs", "log_batch",
                          lambda r: r["cluster"] == f"cli-{unique}", 1)
    assert rec["bodies"] == ["hi"] and key == f"cli-{unique}//x".encode()
