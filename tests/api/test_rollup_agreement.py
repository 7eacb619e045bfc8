"""Rollup-served range queries agree with raw-served ones on the same (varied) samples."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from api.db import ClickHousePool
from api.queries import metrics as q
from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import migrate
from schemas.series import series_id
from tests.api.conftest import api_migrations

pytestmark = pytest.mark.stack
NAME = "container_cpu_usage"
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)


@pytest.fixture(scope="module")
def pool(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHousePool]:
    db = f"rollup_{uuid.uuid4().hex[:10]}"
    migrate(connect(stack.clickhouse_url), db, api_migrations(tmp_path_factory.mktemp("mig")))
    client = connect(stack.clickhouse_url, db)
    rng = random.Random(7)
    series, samples = [], []
    for cluster in ("east", "west"):
        for pod in ("a", "b", "c"):
            labels = {"pod": pod, "namespace": "shop"}
            sid = series_id(cluster, NAME, labels)
            series.append([cluster, NAME, sid, labels, "GAUGE", HOUR])
            for i in range(0, 3 * 3600, 7):  # 7 s: minutes hold 8 or 9 samples
                value = float("nan") if i % 301 == 0 else rng.uniform(-50, 150)
                samples.append([cluster, NAME, sid, HOUR + timedelta(seconds=i), value, "GAUGE"])
    client.insert("series", series, column_names=["cluster", "name", "series_id", "labels",
                                                  "type", "seen"])
    for part in range(0, len(samples), 2000):  # several inserts: unmerged rollup rows too
        client.insert("metrics", samples[part:part + 2000], column_names=[
            "cluster", "name", "series_id", "timestamp", "value", "type"])
    pool = ClickHousePool(stack.clickhouse_url, db)
    yield pool
    pool.close()
    connect(stack.clickhouse_url).command(f"DROP DATABASE IF EXISTS `{db}`")


def _query(pool: ClickHousePool, agg: str, by: list[str], step: int, resolution: str,
           clusters: list[str] | None = None) -> dict:
    start = int(HOUR.timestamp() * 1000)
    out = q.range_query(pool, name=NAME, clusters=clusters, matchers=[], start_ms=start,
                        end_ms=start + 3 * 3600 * 1000, step_s=step, agg=agg, by=by,
                        resolution=resolution)
    assert out["resolution"] == resolution
    return {tuple(sorted(s["labels"].items())): s["points"] for s in out["series"]}


@pytest.mark.parametrize("agg", ["avg", "min", "max", "sum"])
@pytest.mark.parametrize("by", [["cluster"], ["pod"], [], ["cluster", "pod"]])
@pytest.mark.parametrize(("step", "rollup"), [(60, "1m"), (300, "1m"), (3600, "1h")])
def test_rollup_and_raw_answers_agree(pool, agg, by, step, rollup) -> None:
    raw = _query(pool, agg, by, step, "raw")
    rolled = _query(pool, agg, by, step, rollup)
    assert raw.keys() == rolled.keys() and raw
    for key, points in raw.items():
        assert [p[0] for p in points] == [p[0] for p in rolled[key]], key
        assert len(points) == 3 * 3600 // step
        for (_, want), (_, got) in zip(points, rolled[key], strict=True):
            assert got == pytest.approx(want, rel=1e-9, abs=1e-9), (agg, by, key)


def test_cluster_scope_and_coverage_agree(pool) -> None:
    raw = q.range_query(pool, name=NAME, clusters=["west"], matchers=[], start_ms=int(
        HOUR.timestamp() * 1000), end_ms=int(HOUR.timestamp() * 1000) + 3600_000, step_s=60,
        agg="avg", by=["pod"], resolution="raw")
    rolled = q.range_query(pool, name=NAME, clusters=["west"], matchers=[], start_ms=int(
        HOUR.timestamp() * 1000), end_ms=int(HOUR.timestamp() * 1000) + 3600_000, step_s=60,
        agg="avg", by=["pod"], resolution="1m")
    assert set(raw["rows_by_cluster"]) == set(rolled["rows_by_cluster"]) == {"west"}
    assert raw["rows_by_cluster"]["west"] > rolled["rows_by_cluster"]["west"] >= 3 * 60


@pytest.mark.parametrize("resolution", ["raw", "1m"])
@pytest.mark.parametrize("by", [["cluster"], ["pod"]])
def test_window_without_samples_is_empty(pool, resolution, by) -> None:
    end = int(HOUR.timestamp() * 1000)
    out = q.range_query(pool, name=NAME, clusters=None, matchers=[], start_ms=end - 3600_000,
                        end_ms=end, step_s=60, agg="avg", by=by, resolution=resolution)
    assert out["series"] == [] and out["rows_by_cluster"] == {}
