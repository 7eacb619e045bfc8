"""docker-compose.yaml parses, names every service and runs real commands."""

from __future__ import annotations

import yaml

from streams.cli import COMMANDS
from tests.conftest import REPO

PIPELINE = {"receive", "detect", "sink", "correlate", "rca", "notify", "api"}


def test_compose_names_every_service() -> None:
    doc = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    services = doc["services"]
    assert {"kafka", "clickhouse", "grafana", "init"} | PIPELINE <= set(services)
    ours = {n: s for n, s in services.items() if s.get("image") == "aiops-nextgen:dev"}
    assert set(ours) >= PIPELINE
    for name, svc in ours.items():
        if "command" in svc:
            assert svc["command"][0] in COMMANDS, f"{name} runs unknown `aiops {svc['command'][0]}`"
    grafana = services["grafana"]
    assert "grafana-clickhouse-datasource" in grafana["environment"]["GF_INSTALL_PLUGINS"]
    mounts = " ".join(grafana["volumes"])
    assert "deploy/grafana/provisioning" in mounts and "deploy/grafana/dashboards" in mounts
    for path in ("deploy/grafana/provisioning", "deploy/grafana/dashboards"):
        assert (REPO / path).is_dir()
