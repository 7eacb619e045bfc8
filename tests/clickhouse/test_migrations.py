"""Versioned migrations apply once, record themselves, and refuse edited history."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import (
    MIGRATIONS_DIR,
    MigrationError,
    applied,
    discover,
    migrate,
)
from tests.conftest import RunningStack

pytestmark = pytest.mark.stack


def _schema_of(client, database: str) -> list[tuple]:
    return client.query(
        "SELECT name, engine, create_table_query FROM system.tables "
        "WHERE database = {db:String} ORDER BY name", parameters={"db": database}
    ).result_rows


def test_migrations_run_twice_without_change(stack: RunningStack, unique: str) -> None:
    client = connect(stack.clickhouse_url)
    database = f"mig_{unique}"
    ran = migrate(client, database)
    assert [m.version for m in ran] == [m.version for m in discover()]
    before = _schema_of(client, database)
    assert "dead_letters" in {row[0] for row in before}
    assert migrate(client, database) == []
    assert _schema_of(client, database) == before
    recorded = applied(client, database)
    assert sorted(recorded) == [m.version for m in discover()]
    assert all(recorded[m.version] == m.checksum for m in discover())


def test_an_edited_migration_is_refused(stack: RunningStack, unique: str, tmp_path: Path) -> None:
    client = connect(stack.clickhouse_url)
    database = f"mig_edit_{unique}"
    for path in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path / path.name)
    migrate(client, database, tmp_path)
    first = sorted(tmp_path.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(client, database, tmp_path)


def test_a_new_migration_is_applied_in_order(
    stack: RunningStack, unique: str, tmp_path: Path
) -> None:
    client = connect(stack.clickhouse_url)
    database = f"mig_new_{unique}"
    for path in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path / path.name)
    migrate(client, database, tmp_path)
    (tmp_path / "9999_extra.sql").write_text(
        "CREATE TABLE IF NOT EXISTS `{db}`.extra (x UInt8) ENGINE = MergeTree ORDER BY x;"
    )
    assert [m.name for m in migrate(client, database, tmp_path)] == ["extra"]
    assert client.command(f"EXISTS TABLE `{database}`.extra") == 1


def test_bad_file_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "1_nope.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="bad migration file name"):
        discover(tmp_path)


def test_a_failing_statement_names_its_file(stack: RunningStack, unique: str,
                                            tmp_path: Path) -> None:
    (tmp_path / "0001_broken.sql").write_text("CREATE TABLE `{db}`.x (x NoSuchType) ENGINE = Log;")
    with pytest.raises(MigrationError, match="0001_broken.sql"):
        migrate(connect(stack.clickhouse_url), f"mig_bad_{unique}", tmp_path)
