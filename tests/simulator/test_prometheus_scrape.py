"""A real Prometheus discovers the simulated targets over HTTP SD and scrapes them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from streams.simulator.emitters.exposition import ExpositionEmitter
from streams.simulator.fleet import FleetRun
from tests.simulator.helpers import STEP_MS

BINARY = shutil.which("prometheus")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def exposed() -> Iterator[tuple[ExpositionEmitter, FleetRun]]:
    emitter = ExpositionEmitter(port=0, timestamps=False)
    run = FleetRun.create(clusters=4, seed=8, start_ms=int(time.time() * 1000) // STEP_MS
                          * STEP_MS, step_ms=STEP_MS, speed=0)
    emitter.setup()
    for sim in run.sims:
        emitter.add(sim, sim.tick(0), 0)
    yield emitter, run
    emitter.close()


def test_prometheus_scrapes_every_simulated_target(exposed, tmp_path) -> None:
    if BINARY is None:
        pytest.skip("prometheus not installed (apt-get install prometheus)")
    emitter, run = exposed
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: simulator\n"
        "    honor_labels: true\n"
        f"    http_sd_configs: [{{url: '{emitter.base_url}/targets', refresh_interval: 5s}}]\n")
    proc = subprocess.Popen(
        [BINARY, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}/api/v1"
    expected = len(emitter.sd_targets())
    try:
        up: list = []
        for _ in range(60):
            time.sleep(1)
            try:
                up = httpx.get(f"{api}/query", params={"query": "up == 1"}).json()[
                    "data"]["result"]
            except httpx.HTTPError:
                continue
            if len(up) == expected:
                break
        assert len(up) == expected, f"{len(up)} of {expected} targets up"
        edge = next(s for s in run.sims if s.cluster.has_ptp and s.cluster.has_shop)
        got = httpx.get(f"{api}/query", params={
            "query": f'openshift_ptp_clock_state{{cluster="{edge.cluster.name}"}}'}).json()
        assert [r["value"][1] for r in got["data"]["result"]] == ["1"]
        gpu = httpx.get(f"{api}/query", params={"query": "count(DCGM_FI_DEV_GPU_UTIL)"}).json()
        assert int(gpu["data"]["result"][0]["value"][1]) == sum(
            len(s.cluster.gpus) for s in run.sims)
    finally:
        proc.terminate()
        proc.wait(30)
