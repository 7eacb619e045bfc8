"""The rollup builder: slices of inserted ``metrics`` blocks into ``metrics_1m``/``metrics_1h``
equal a GROUP BY over the raw samples, exactly once across crashes, replays and upgrades."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import MIGRATIONS_DIR, discover, migrate
from connectors.sinks.metric_rollups import ROLLUPS, MetricRollupBuilder, Slice, build_rollups
from tests.conftest import RunningStack

pytestmark = pytest.mark.stack
COLUMNS = ["cluster", "name", "series_id", "timestamp", "value", "type"]
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
BUCKET = {"metrics_1m": "toStartOfMinute", "metrics_1h": "toStartOfHour"}


def samples(rng: random.Random, seconds: range, series: int = 4) -> list[list]:
    rows = []
    for s in range(series):
        cluster = "east" if s % 2 else "west"
        for i in seconds:
            value = float("nan") if i % 97 == 0 else round(rng.uniform(-50, 150), 3)
            rows.append([cluster, f"m{s % 3}", 1000 + s, HOUR + timedelta(seconds=i), value,
                         "GAUGE"])
    return rows


def insert_blocks(client, rows: list[list], per_block: int) -> None:
    for at in range(0, len(rows), per_block):
        client.insert("metrics", rows[at:at + per_block], column_names=COLUMNS)


def assert_equal_to_raw(client) -> None:
    """Every rollup row equals a direct GROUP BY over the raw samples (NaN left out)."""
    for table, bucket in BUCKET.items():
        rolled = client.query(
            f"SELECT cluster, name, series_id, timestamp, sum(count), min(min), max(max), "
            f"sum(sum), avgMerge(avg), argMaxMerge(last), "
            f"quantilesTDigestMerge(0.5, 0.9, 0.99)(quantiles) FROM {table} "
            "GROUP BY cluster, name, series_id, timestamp "
            "ORDER BY cluster, name, series_id, timestamp").result_rows
        raw = client.query(
            f"SELECT cluster, name, series_id, {bucket}(timestamp) AS t, count(), min(value), "
            "max(value), sum(value), avg(value), argMax(value, timestamp), "
            "quantilesTDigest(0.5, 0.9, 0.99)(value) FROM metrics WHERE NOT isNaN(value) "
            "GROUP BY cluster, name, series_id, t ORDER BY cluster, name, series_id, t"
        ).result_rows
        assert len(rolled) == len(raw) > 0, table
        for got, want in zip(rolled, raw, strict=True):
            assert got[:6] == want[:6], (table, got[:4])  # key, count, min, max: exact
            assert got[6:9] == pytest.approx(want[6:9], rel=1e-12), (table, got[:4])
            assert got[9] == want[9], (table, got[:4])  # last
            # TDigest states merged across slices: close to one digest over the raw samples
            assert got[10] == pytest.approx(want[10], abs=2.0), (table, got[:4])


def builders(client, db: str, max_blocks: int | None = None) -> list[MetricRollupBuilder]:
    return [MetricRollupBuilder(lambda: client, db, table, max_blocks) for table in ROLLUPS]


def database(stack: RunningStack, name: str, directory: Path = MIGRATIONS_DIR):
    migrate(connect(stack.clickhouse_url), name, directory)
    return connect(stack.clickhouse_url, name)


def test_slices_equal_a_group_by_over_raw(stack: RunningStack, unique: str) -> None:
    db = f"rollup_{unique}"
    client = database(stack, db)
    rng = random.Random(unique)
    insert_blocks(client, samples(rng, range(0, 5400, 5)), 700)  # 1.5 h, many small blocks
    insert_blocks(client, samples(rng, range(2, 3000, 60)), 50)  # late: built minutes again
    minute, hour = builders(client, db, max_blocks=7)
    assert minute.position()[1] > 7
    assert minute.catch_up() > 0 and hour.catch_up() > 0
    for builder in (minute, hour):
        assert builder.position()[1] == 0 and builder.run() is None
    assert_equal_to_raw(client)
    insert_blocks(client, samples(rng, range(5400, 9000, 5)), 900)  # fresh hour
    minute.catch_up()  # the hourly builder runs less often: it slices on its own
    insert_blocks(client, samples(rng, range(9000, 9600, 5)), 900)
    hour.catch_up()
    minute.catch_up()
    assert_equal_to_raw(client)
    client.command(f"DROP DATABASE `{db}`")


@pytest.mark.parametrize("table", sorted(ROLLUPS))
@pytest.mark.parametrize("landed", [False, True])
def test_a_crash_between_intent_and_done_redoes_the_same_slice(
    stack: RunningStack, unique: str, table: str, landed: bool
) -> None:
    db = f"rollup_crash_{unique}"
    client = database(stack, db)
    rng = random.Random(unique)
    insert_blocks(client, samples(rng, range(0, 3600, 10)), 300)
    crashed = MetricRollupBuilder(lambda: client, db, table, max_blocks=3)
    crashed.catch_up(max_slices=1)
    piece = crashed.next_slice()  # the intent is recorded ...
    assert piece is not None and not piece.done
    if landed:  # ... and its insert lands before the "crash", or not
        assert crashed.insert(piece) > 0
    insert_blocks(client, samples(rng, range(3600, 4000, 10)), 300)  # more blocks meanwhile
    restarted = MetricRollupBuilder(lambda: client, db, table, max_blocks=3)
    assert restarted.next_slice() == piece  # the very same slice, not a wider one
    restarted.run()
    assert restarted.progress() == Slice(piece.lo, piece.hi, done=True, seq=piece.seq + 1)
    build_rollups(lambda: client, db)
    assert all(b.position()[1] == 0 for b in builders(client, db))
    for table in ROLLUPS:
        assert int(client.command(f"SELECT sum(count) FROM {table}")) == int(
            client.command("SELECT count() FROM metrics WHERE NOT isNaN(value)"))
    assert_equal_to_raw(client)
    client.command(f"DROP DATABASE `{db}`")


def test_a_deduplicated_replay_adds_no_block_and_no_rollup_row(
    stack: RunningStack, unique: str
) -> None:
    db = f"rollup_replay_{unique}"
    client = database(stack, db)
    rows = samples(random.Random(unique), range(0, 600, 15))
    settings = {"insert_deduplicate": 1, "insert_deduplication_token": "t:0:0-9:metrics"}
    for _ in range(3):
        client.insert("metrics", rows, column_names=COLUMNS, settings=settings)
        build_rollups(lambda: client, db)
    assert int(client.command("SELECT count() FROM metrics")) == len(rows)
    assert_equal_to_raw(client)
    client.command(f"DROP DATABASE `{db}`")


def test_upgrade_from_insert_time_views_counts_nothing_twice(
    stack: RunningStack, unique: str, tmp_path: Path
) -> None:
    """A database whose rollups the dropped views filled: the builder starts after them."""
    db = f"rollup_upgrade_{unique}"
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if int(path.name[:4]) < 41:
            shutil.copy(path, tmp_path / path.name)
    client = database(stack, db, tmp_path)
    rng = random.Random(unique)
    insert_blocks(client, samples(rng, range(0, 1800, 5)), 400)  # rolled up by the views
    views = client.query("SELECT name FROM system.tables WHERE database = {d:String} AND "
                         "engine = 'MaterializedView' AND name LIKE 'metrics_%'",
                         parameters={"d": db}).result_rows
    assert len(views) == 2
    visible = MetricRollupBuilder(lambda: client, db).visible_block()
    assert [m.version for m in migrate(connect(stack.clickhouse_url), db)] == [41]
    for builder in builders(client, db):
        assert builder.progress() is not None and builder.position() == (visible, 0)
    # the migration's statements are idempotent on their own, too
    for statement in next(m for m in discover() if m.version == 41).statements(db):
        client.command(statement)
    assert int(client.command("SELECT count() FROM metrics_rollup_progress FINAL")) == 2
    insert_blocks(client, samples(rng, range(1800, 3000, 5)), 400)  # no view any more
    insert_blocks(client, samples(rng, range(3, 900, 30)), 400)  # late into view-built ones
    build_rollups(lambda: client, db)
    assert all(b.position()[1] == 0 for b in builders(client, db))
    assert_equal_to_raw(client)
    client.command(f"DROP DATABASE `{db}`")


def test_a_restarted_block_counter_starts_the_slices_again(
    stack: RunningStack, unique: str
) -> None:
    """Every part expired and the server restarted (counter reset): slices restart at 0."""
    db = f"rollup_reset_{unique}"
    client = database(stack, db)
    insert_blocks(client, samples(random.Random(unique), range(0, 600, 15)), 100)
    builder = MetricRollupBuilder(lambda: client, db, "metrics_1m")
    builder.catch_up()
    hi = builder.position()[0]
    client.insert("metrics_rollup_progress", [[0, hi, hi + 1000, 1, 99]],
                  column_names=["slot", "lo", "hi", "done", "seq"])  # as if blocks had gone
    assert builder.next_slice() is not None and builder.progress().lo == 0
    assert builder.progress().seq == 100  # the intent is the latest record (seq, not hi)
    builder.catch_up()
    assert builder.position() == (hi, 0)
    client.command(f"DROP DATABASE `{db}`")
