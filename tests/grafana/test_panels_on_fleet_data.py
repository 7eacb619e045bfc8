"""Every Grafana panel against ClickHouse loaded with simulated fleet data.

The data goes through the real pipeline on a private stack (simulator -> Kafka -> sink, detect,
correlate, rca; one corrupt record for the dead-letter path). Every panel's SQL, macros expanded
and template variables resolved from the data as Grafana resolves them, must run, return the
column shape its panel type needs, and return rows, on the dashboard's own default time range.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from connectors.clickhouse.grafana import PanelResult, check_dashboards, shape_problem
from streams.demo.fleet_load import CORRUPT_RECORD, FleetLoad, loaded_fleet
from tests.conftest import REPO, local_settings

pytestmark = pytest.mark.stack

DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetLoad]:
    """A private stack loaded once for this module (about 2 minutes), stopped afterwards."""
    settings = local_settings(tmp_path_factory.mktemp("fleet") / "data")
    with loaded_fleet(settings) as load:
        yield load


def _targets() -> int:
    return sum(len(p["targets"]) for path in DASHBOARDS.glob("*.json")
               for p in json.loads(path.read_text())["panels"])


def _run(load: FleetLoad, **kwargs: object) -> list[PanelResult]:
    # Each dashboard's own default time range (now-6h .. now) holds the freshly loaded data.
    assert load.start_ms > (time.time() - 3600) * 1000
    return check_dashboards(load.client(), DASHBOARDS, **kwargs)  # type: ignore[arg-type]


def _failed(results: list[PanelResult]) -> list[tuple[str, str, str]]:
    return [(r.dashboard, r.panel, r.error) for r in results if not r.ok]


def test_the_load_went_through_the_whole_pipeline(fleet: FleetLoad) -> None:
    assert fleet.behind == {}, f"consumer groups still behind: {fleet.behind}"
    client = fleet.client()
    counts = {t: client.query(f"SELECT count() FROM {t}").first_row[0]
              for t in ("metrics", "gpu", "logs", "spans", "alerts", "anomalies", "incidents",
                        "rca_reports", "clusters")}
    assert all(counts.values()), counts
    # The corrupt record was dead-lettered by the sink (and stored by it), not dropped ...
    where = client.query("SELECT component, stage FROM dead_letters "
                         "WHERE topic = 'aiops.metrics'").result_rows
    assert ("sink", "DECODE") in where, where
    # ... and nothing valid was.
    valid = client.query(
        "SELECT component, stage, topic, error_type, count(), any(error) FROM dead_letters "
        f"WHERE raw != unhex('{CORRUPT_RECORD.hex()}') "
        "GROUP BY component, stage, topic, error_type").result_rows
    assert not valid, f"valid records dead-lettered: {valid}"


def test_every_panel_returns_rows_of_its_shape_on_the_default_selection(
        fleet: FleetLoad) -> None:
    results = _run(fleet)  # variables resolved from the data; the cluster variable on All
    assert len(results) == _targets()
    assert not _failed(results), _failed(results)


def test_every_panel_returns_rows_with_every_cluster_selected(fleet: FleetLoad) -> None:
    # Every value picked explicitly: the `cluster IN (...)` branch of $__conditionalAll.
    results = _run(fleet, all_vars=frozenset())
    assert len(results) == _targets()
    assert not _failed(results), _failed(results)


def test_one_cluster_selected_filters_the_panels(fleet: FleetLoad) -> None:
    names = [r[0] for r in fleet.client().query(
        "SELECT name, gpu_count FROM clusters FINAL ORDER BY name").result_rows]
    gpu_clusters = {r[0] for r in fleet.client().query(
        "SELECT name FROM clusters FINAL WHERE gpu_count > 0").result_rows}
    assert gpu_clusters and set(names) - gpu_clusters
    for name in names:
        results = _run(fleet, variables={"cluster": [name]}, all_vars=frozenset(),
                       require_rows=False)
        assert not _failed(results), (name, _failed(results))
        gpu_rows = sum(r.rows for r in results if r.dashboard == "AIOps / GPU fleet")
        assert (gpu_rows > 0) == (name in gpu_clusters), (name, gpu_rows)


def test_shape_rules_for_value_and_log_columns() -> None:
    assert "numeric" in shape_problem(0, ["time", "node"], ["DateTime", "String"])
    assert shape_problem(0, ["time", "node", "v"], ["DateTime", "String", "Nullable(Float64)"]) \
        == ""
    assert "DateTime" in shape_problem(2, ["timestamp", "body", "level"],
                                       ["String", "String", "String"])
