"""Which components ``aiops up`` runs, and how each is reached."""

from __future__ import annotations

from pathlib import Path

from streams.settings import Settings
from streams.supervisor.spec import build_specs, registered_commands, sink_topics


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(data_dir=tmp_path, **kw)  # type: ignore[arg-type]


def test_missing_commands_are_skipped_with_a_reason(tmp_path: Path) -> None:
    specs, skipped = build_specs(_settings(tmp_path), commands={"sink", "detect", "api"})
    assert [s.name for s in specs] == ["sink", "detect", "api"]
    reasons = {s.name: s.reason for s in skipped}
    assert "not registered" in reasons["rca"] and "not registered" in reasons["correlate"]


def test_scrape_needs_a_config_and_ports_come_from_settings(tmp_path: Path) -> None:
    s = _settings(tmp_path, detect_metrics_port=19475, api_port=18080)
    specs, skipped = build_specs(s, commands={"detect", "api", "scrape"})
    by = {x.name: x for x in specs}
    assert "scrape" in {x.name for x in skipped}
    assert by["detect"].env == {"AIOPS_DETECT_METRICS_PORT": "19475"}
    assert by["detect"].health_url == "http://127.0.0.1:19475/metrics"
    assert by["detect"].group == s.detect_group and "aiops.metrics" in by["detect"].topics
    assert by["api"].health_url == "http://127.0.0.1:18080/health"
    cfg = tmp_path / "scrape.yaml"
    cfg.write_text("scrape_configs: []\n")
    specs, _ = build_specs(_settings(tmp_path, scrape_config=cfg), commands={"scrape"})
    assert specs[0].argv[-2:] == ("scrape", "run")


def test_free_ports_differ_and_only_filters(tmp_path: Path) -> None:
    specs, _ = build_specs(_settings(tmp_path), free_ports=True, only={"sink", "detect"},
                           commands={"sink", "detect", "correlate"})
    assert [s.name for s in specs] == ["sink", "detect"]
    assert len({s.health_url for s in specs}) == 2
    sink = specs[0]
    assert sink.argv.count("--topic") == len(sink_topics())
    assert "aiops.groundtruth" not in sink.argv  # no table for FaultRecords


def test_registered_commands_reflect_the_cli() -> None:
    names = registered_commands()
    assert {"sink", "detect", "up", "down", "status", "scorecard"} <= names
