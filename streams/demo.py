"""``make demo``: the main job on the embedded local stack.

Brings up the real local Kafka + ClickHouse, applies the topic catalogue and the
ClickHouse migrations, and prints where everything answers.
"""

from __future__ import annotations

import time

from rich.console import Console

from connectors.clickhouse.client import connect
from connectors.clickhouse.migrations import migrate
from streams.kafka import admin
from streams.settings import get_settings
from streams.stack.manager import LocalStack

console = Console()


def main() -> None:
    """Run the demo end to end."""
    settings = get_settings()
    stack = LocalStack(settings)
    started = time.monotonic()
    with console.status("starting the local stack (Kafka KRaft + ClickHouse) ..."):
        stack.up()
    console.print(f"[green]stack up[/green] in {time.monotonic() - started:.1f}s")
    changes = admin.apply(stack.kafka_bootstrap())
    console.print(f"topics: {len(changes)} change(s) applied")
    ran = migrate(connect(stack.clickhouse_url()), settings.clickhouse_database)
    console.print(f"ClickHouse migrations applied: {[m.name for m in ran] or 'none pending'}")
    for row in stack.status():
        console.print(f"  {row.name:<11} {row.address:<28} {'healthy' if row.healthy else 'DOWN'}")
    console.print("Stop with `.venv/bin/aiops stack down`.")


if __name__ == "__main__":
    main()
