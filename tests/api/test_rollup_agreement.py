"""Rollup-served range queries agree with raw-served ones on the same (varied) samples,
whether or not the rollup builder has aggregated them yet."""

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
from connectors.sinks.metric_rollups import ROLLUPS, MetricRollupBuilder, build_rollups
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
    build_rollups(lambda: client, db, max_blocks=4)  # several slices
    assert all(MetricRollupBuilder(lambda: client, db, t).position()[1] == 0 for t in ROLLUPS)
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


COLUMNS = ["cluster", "name", "series_id", "timestamp", "value", "type"]


def _agree(pool: ClickHousePool, hours: int) -> None:
    start = int(HOUR.timestamp() * 1000)
    for step, rollup in ((60, "1m"), (300, "1m"), (3600, "1h")):
        for agg in ("avg", "min", "max", "sum"):
            answers = [q.range_query(pool, name=NAME, clusters=None, matchers=[],
                                     start_ms=start, end_ms=start + hours * 3600_000,
                                     step_s=step, agg=agg, by=["pod"], resolution=res)
                       for res in ("raw", rollup)]
            raw, rolled = ({tuple(s["labels"].items()): s["points"] for s in a["series"]}
                           for a in answers)
            assert raw.keys() == rolled.keys() and raw
            for key, points in raw.items():
                assert [p[0] for p in points] == [p[0] for p in rolled[key]], (step, key)
                for (_, want), (_, got) in zip(points, rolled[key], strict=True):
                    assert got == pytest.approx(want, rel=1e-9, abs=1e-9), (step, agg, key)


def test_samples_the_builder_has_not_aggregated_are_read_raw(stack, tmp_path) -> None:
    """Fresh samples, late samples into built minutes, the two tables' builders at
    different blocks, and slices in flight (inserted or not, not recorded done): rollup
    answers stay exact."""
    db = f"rollup_tail_{uuid.uuid4().hex[:10]}"
    migrate(connect(stack.clickhouse_url), db, api_migrations(tmp_path))
    client = connect(stack.clickhouse_url, db)
    rng = random.Random(11)
    sids = {pod: series_id("east", NAME, {"pod": pod}) for pod in ("a", "b")}
    client.insert("series", [["east", NAME, sid, {"pod": pod}, "GAUGE", HOUR]
                             for pod, sid in sids.items()],
                  column_names=["cluster", "name", "series_id", "labels", "type", "seen"])

    def insert(seconds: range) -> None:
        client.insert("metrics", [["east", NAME, sid, HOUR + timedelta(seconds=i),
                                   rng.uniform(0, 100), "GAUGE"]
                                  for sid in sids.values() for i in seconds], column_names=COLUMNS)

    pool = ClickHousePool(stack.clickhouse_url, db)
    insert(range(0, 3600, 5))
    insert(range(3600, 7200, 5))
    _agree(pool, 3)  # nothing built yet: every sample from raw
    minute, hour = (MetricRollupBuilder(lambda: client, db, t) for t in ROLLUPS)
    minute.catch_up()
    _agree(pool, 3)  # minutes built, hours not
    hour.catch_up()
    insert(range(7200, 3 * 3600, 5))  # fresh
    insert(range(1802, 1900, 10))  # late, into built minutes and a built hour
    _agree(pool, 3)
    pieces = [b.next_slice() for b in (minute, hour)]  # in flight: intents ...
    _agree(pool, 3)
    assert minute.insert(pieces[0]) > 0  # ... one inserted, one not
    _agree(pool, 3)
    assert hour.insert(pieces[1]) > 0
    _agree(pool, 3)
    for table, piece in zip(ROLLUPS, pieces, strict=True):
        restarted = MetricRollupBuilder(lambda: client, db, table)
        restarted.catch_up()  # redoes the intent: deduplicated, then done
        assert restarted.position() == (piece.hi, 0)
    _agree(pool, 3)
    assert int(client.command("SELECT sum(count) FROM metrics_1m")) == int(
        client.command("SELECT count() FROM metrics"))
    pool.close()
    connect(stack.clickhouse_url).command(f"DROP DATABASE IF EXISTS `{db}`")
