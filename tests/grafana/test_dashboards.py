"""Grafana dashboards: generated from code, and every panel's SQL runs on the real schema."""

from __future__ import annotations

import doctest
import importlib.util
import json
import time

import pytest

from connectors.clickhouse import grafana
from connectors.clickhouse.client import connect
from connectors.clickhouse.grafana import check_dashboards, expand, shape_problem
from connectors.clickhouse.migrations import migrate
from tests.conftest import REPO, RunningStack

GRAFANA = REPO / "deploy" / "grafana"


def _builder():
    spec = importlib.util.spec_from_file_location("build_dashboards",
                                                  GRAFANA / "build_dashboards.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_dashboard_json_matches_its_builder() -> None:
    for name, text in _builder().render().items():
        assert (GRAFANA / "dashboards" / name).read_text() == text, (
            f"{name} is stale: run `python deploy/grafana/build_dashboards.py`")


def test_every_panel_uses_the_provisioned_datasource() -> None:
    for path in (GRAFANA / "dashboards").glob("*.json"):
        doc = json.loads(path.read_text())
        assert doc["panels"], path.name
        for panel in doc["panels"]:
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "aiops-clickhouse"
                assert target["rawSql"].strip().upper().startswith("SELECT")


def test_macros_expand_like_the_plugin() -> None:
    sql = ("SELECT $__timeInterval(ts) AS time FROM t WHERE $__timeFilter(ts) AND "
           "$__conditionalAll(c IN (${cluster:singlequote}), $cluster) AND x < $__interval_s")
    scoped = expand(sql, 100, 200, 30, {"cluster": ["a", "b'c"]})
    assert "toStartOfInterval(toDateTime(ts), INTERVAL 30 second)" in scoped
    assert "ts >= toDateTime(100) AND ts <= toDateTime(200)" in scoped
    assert "c IN ('a', 'b\\'c')" in scoped and "x < 30" in scoped
    everything = expand(sql, 100, 200, 30, {"cluster": ["a"]}, frozenset({"cluster"}))
    assert "1=1" in everything and "c IN" not in everything


def test_module_examples() -> None:
    assert doctest.testmod(grafana).failed == 0


def test_shape_rules() -> None:
    assert shape_problem(0, ["time", "v"], ["DateTime", "Float64"]) == ""
    assert "time" in shape_problem(0, ["v", "time"], ["Float64", "DateTime"])
    assert "logs" in shape_problem(2, ["timestamp", "body"], ["DateTime64(9)", "String"])


@pytest.mark.stack
def test_every_panel_query_runs_on_the_migrated_schema(stack: RunningStack, unique: str) -> None:
    database = f"grafana_{unique}"
    client = connect(stack.clickhouse_url)
    migrate(client, database)
    client = connect(stack.clickhouse_url, database)
    now = int(time.time())
    # An empty schema returns no rows; every query must still run and have the right shape.
    results = check_dashboards(client, GRAFANA / "dashboards", now - 6 * 3600, now,
                               {"cluster": ["hub-000"]}, frozenset({"cluster"}),
                               require_rows=False)
    assert results
    broken = [(r.dashboard, r.panel, r.error) for r in results if not r.ok]
    assert not broken, broken
