"""Scrape config validation and file-based target discovery."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.sources.cnf import CnfSource, canonical_name, curated_match
from connectors.sources.config import GlobalConfig, JobConfig, ScrapeConfig, parse_duration
from connectors.sources.discovery import Discoverer
from connectors.sources.discovery import Target as T

CONFIG = """
cluster: {name: spoke-1, region: eu-west, endpoints: {prometheus: "http://127.0.0.1:1"}}
global: {scrape_interval: 15s, scrape_timeout: 5s}
scrape_configs:
  - job_name: node
    static_configs: [{targets: ["10.0.0.1:9100"], labels: {rack: r1}}]
    file_sd_configs: [{files: ["{sd}/*.json"]}]
  - job_name: gpu
    source: dcgm
    scrape_interval: 30s
    scrape_timeout: 1m
    bearer_token: abc
"""


def test_yaml_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "scrape.yaml"
    path.write_text(CONFIG.replace("{sd}", str(tmp_path)))
    cfg = ScrapeConfig.load(path)
    node, gpu = cfg.scrape_configs
    assert node.interval_s(cfg.global_) == 15 and node.timeout_s(cfg.global_) == 5
    assert gpu.timeout_s(cfg.global_) == 30  # never longer than the interval
    assert gpu.token() == "abc" and cfg.cluster.region == "eu-west"


@pytest.mark.parametrize("bad", [
    {"cluster": {"name": "x"}, "scrape_configs": [{"job_name": "a", "scrape_interval": "5 s"}]},
    {"cluster": {"name": "x"}, "scrape_configs": [{"job_name": "a"}, {"job_name": "a"}]},
    {"cluster": {"name": "x"}, "scrape_configs": [{"job_name": "a", "source": "query"}]},
    {"cluster": {"name": "x"}, "scrape_configs": [{"job_name": "a", "typo_field": 1}]},
])
def test_invalid_config_is_rejected(bad: dict) -> None:
    with pytest.raises(ValidationError):
        ScrapeConfig.model_validate(bad)


def test_durations() -> None:
    assert parse_duration("1h30m") == 5400 and parse_duration("500ms") == 0.5
    assert parse_duration("2m") == 120 and parse_duration(3) == 3
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration("soon")


def test_file_sd_reads_changes_and_keeps_targets_of_a_broken_file(tmp_path: Path) -> None:
    sd = tmp_path / "targets.json"
    sd.write_text(json.dumps([{"targets": ["a:1", "b:2"], "labels": {"env": "lab"}}]))
    job = JobConfig(job_name="node", static_configs=[{"targets": ["s:1"]}],
                    file_sd_configs=[{"files": [str(tmp_path / "*.json")]}])
    disc = Discoverer(job)
    got = disc.targets()
    assert [t.address for t in got] == ["s:1", "a:1", "b:2"]
    assert got[1] == T("node", "a:1", {"env": "lab", "job": "node", "instance": "a:1"})
    sd.write_text(json.dumps([{"targets": ["c:3"]}]))
    os.utime(sd, (1, 1))  # a different mtime, whatever the clock resolution
    assert [t.address for t in disc.targets()] == ["s:1", "c:3"]
    sd.write_text("[{not json")
    os.utime(sd, (2, 2))
    assert [t.address for t in disc.targets()] == ["s:1", "c:3"]
    assert "not valid" in disc.errors[str(sd)]
    (tmp_path / "more.json").write_text(json.dumps([{"targets": ["d:4"]}]))
    assert "d:4" in [t.address for t in disc.targets()]


def test_cnf_job_defaults_to_curated_federation() -> None:
    src = CnfSource(JobConfig(job_name="cnf", source="cnf", honor_labels=True), GlobalConfig(),
                    "c1", publisher=None)  # type: ignore[arg-type]
    assert src.job.metrics_path == "/federate"
    assert src.job.params["match[]"] == curated_match()
    assert any("openshift_ptp_" in s and "node_ptp_" in s for s in curated_match())
    assert canonical_name("node_ptp_clock_state") == "openshift_ptp_clock_state"
