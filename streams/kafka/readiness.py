"""Kafka connectivity as a readiness check of the process's ops endpoint (/ready).

librdkafka reports its broker connections in statistics every few seconds (served by
``poll``/``consume``); a consumer is ready while at least one broker connection is UP.

>>> cb = stats_callback("kafka consumer demo")
>>> cb('{"brokers": {"b1": {"nodeid": 1, "state": "DOWN"}}}')
>>> from streams.ops_server import readiness
>>> readiness()[1]["kafka consumer demo"]
'no connection to any Kafka broker (b1: DOWN)'
>>> cb('{"brokers": {"b1": {"nodeid": 1, "state": "UP"}}}')
>>> "kafka consumer demo" in readiness()[1]
False
"""

from __future__ import annotations

import json
from collections.abc import Callable

from streams.ops_server import set_ready

STATS_INTERVAL_MS = 5_000


def stats_callback(check: str) -> Callable[[str], None]:
    """A librdkafka ``stats_cb`` that records ``check`` as ready while a broker is UP."""

    def on_stats(raw: str) -> None:
        try:
            brokers = json.loads(raw).get("brokers", {})
        except ValueError:
            return
        # bootstrap entries have nodeid -1; they count only until the real brokers are known
        known = {n: b for n, b in brokers.items() if b.get("nodeid", -1) >= 0} or brokers
        if any(b.get("state") == "UP" for b in known.values()):
            set_ready(check, True)
        else:
            states = ", ".join(f"{n}: {b.get('state', '?')}" for n, b in sorted(known.items()))
            set_ready(check, False, f"no connection to any Kafka broker ({states})")

    return on_stats


def readiness_config(check: str) -> dict[str, object]:
    """Consumer/producer settings that report broker connectivity as ``check``."""
    set_ready(check, False, "connecting to Kafka")
    return {"statistics.interval.ms": STATS_INTERVAL_MS, "stats_cb": stats_callback(check)}
