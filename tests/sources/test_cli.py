"""`aiops scrape check` validates the config and lists the targets."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from streams.cli import app


def test_check_lists_targets_and_sd_errors(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text(json.dumps([{"targets": ["b:2"]}]))
    (tmp_path / "bad.json").write_text("{oops")
    cfg = tmp_path / "scrape.yaml"
    cfg.write_text(f"""
cluster: {{name: spoke-1}}
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ["a:1"]}}]
    file_sd_configs: [{{files: ["{tmp_path}/*.json"]}}]
""")
    result = CliRunner().invoke(app, ["scrape", "check", "-c", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "2 target(s)" in result.output and "a:1" in result.output and "b:2" in result.output
    assert "bad.json" in result.output


def test_invalid_config_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "scrape.yaml"
    cfg.write_text("cluster: {name: x}\nscrape_configs: [{job_name: a, scrape_interval: often}]\n")
    result = CliRunner().invoke(app, ["scrape", "check", "-c", str(cfg)])
    assert result.exit_code == 2 and "invalid duration" in result.output
