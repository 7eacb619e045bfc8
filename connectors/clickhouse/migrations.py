"""Versioned ClickHouse migrations from ``deploy/clickhouse/NNNN_name.sql``.

Each file is a list of statements, each ending with ``;`` at the end of a line, and may use
``{db}`` for the target database. ``migrate`` applies, in order, the files not
yet recorded in ``<db>.schema_migrations`` and records each with its checksum;
running it again changes nothing. Every statement must itself be idempotent
(``IF NOT EXISTS``) so a crash between a statement and the record is harmless.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse"
FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """A migration file is malformed, changed after it ran, or failed."""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self, database: str) -> list[str]:
        """The file's statements with ``{db}`` substituted; comments dropped."""
        text = "\n".join(
            line for line in self.sql.splitlines() if not line.lstrip().startswith("--")
        )
        # A statement ends with ';' at the end of a line, so ';' inside a string or
        # COMMENT literal does not split it.
        parts = re.split(r";[ \t]*(?:\n|$)", text)
        return [p.strip().replace("{db}", database) for p in parts if p.strip()]


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file, ordered by version; duplicate versions are an error."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILE_RE.match(path.name)
        if not match:
            raise MigrationError(f"bad migration file name {path.name} (want NNNN_name.sql)")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations with version {version}")
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def _ensure_table(client: Client, database: str) -> None:
    client.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    client.command(
        f"CREATE TABLE IF NOT EXISTS `{database}`.schema_migrations ("
        " version UInt32, name String, checksum String,"
        " applied_at DateTime64(3, 'UTC') DEFAULT now64(3)"
        ") ENGINE = ReplacingMergeTree ORDER BY version"
    )


def applied(client: Client, database: str) -> dict[int, str]:
    """version -> checksum of every migration already recorded."""
    _ensure_table(client, database)
    rows = client.query(
        f"SELECT version, argMax(checksum, applied_at) FROM `{database}`.schema_migrations "
        "GROUP BY version"
    ).result_rows
    return {int(v): str(c) for v, c in rows}


def migrate(client: Client, database: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply pending migrations in order; returns those applied (empty when up to date)."""
    done = applied(client, database)
    ran: list[Migration] = []
    for migration in discover(directory):
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.path.name} changed after it was applied; "
                    "add a new migration instead"
                )
            continue
        for statement in migration.statements(database):
            try:
                client.command(statement)
            except Exception as exc:  # noqa: BLE001 - translated with the statement
                raise MigrationError(f"{migration.path.name}: {exc}") from exc
        client.insert(
            f"`{database}`.schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        ran.append(migration)
    return ran
