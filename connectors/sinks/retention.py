"""Apply configured TTLs to the history tables (migrations ship the defaults)."""

from __future__ import annotations

import re

from clickhouse_connect.driver.client import Client

TTL_RE = re.compile(r"TTL .*?toIntervalDay\((\d+)\)")

# table -> TTL expression over its time column, with {days}
TTL_EXPR = {
    "metrics": "toDateTime(timestamp) + toIntervalDay({days})",
    "metrics_1m": "timestamp + toIntervalDay({days})",
    "metrics_1h": "timestamp + toIntervalDay({days})",
}


def current_ttl_days(client: Client, database: str, table: str) -> int | None:
    """Days in the table's TTL clause, None when it has none."""
    query = client.command(
        "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        parameters={"db": database, "t": table})
    match = TTL_RE.search(str(query))
    return int(match.group(1)) if match else None


def apply_ttls(client: Client, database: str, days: dict[str, int]) -> list[str]:
    """``ALTER ... MODIFY TTL`` where the configured days differ; returns tables changed.

    Existing parts are not rewritten (``materialize_ttl_after_modify = 0``): the new
    TTL applies as parts merge, and whole expired day partitions drop.
    """
    changed = []
    for table, want in days.items():
        if current_ttl_days(client, database, table) == want:
            continue
        expr = TTL_EXPR[table].format(days=int(want))
        client.command(f"ALTER TABLE `{database}`.`{table}` MODIFY TTL {expr}",
                       settings={"materialize_ttl_after_modify": 0})
        changed.append(table)
    return changed
