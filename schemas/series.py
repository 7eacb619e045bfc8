"""Stable series identity shared by collectors, the simulator and the sink.

A series id is the first 8 bytes (signed, little-endian) of BLAKE2b over the
cluster, the metric name and the sorted label pairs, so every process computes
the same id for the same series.

>>> series_id("c1", "up", {"job": "node", "instance": "a:9100"}) == series_id(
...     "c1", "up", {"instance": "a:9100", "job": "node"})
True
>>> series_id("c1", "up", {}) != series_id("c2", "up", {})
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

_SEP = b"\xff"


def series_key(cluster: str, name: str, labels: Mapping[str, str]) -> bytes:
    """The canonical byte string a series id is hashed from."""
    parts = [cluster.encode(), name.encode()]
    for key in sorted(labels):
        parts.append(key.encode())
        parts.append(labels[key].encode())
    return _SEP.join(parts)


def series_id(cluster: str, name: str, labels: Mapping[str, str]) -> int:
    """Signed 64-bit id of a series (fits Avro long and ClickHouse Int64)."""
    digest = hashlib.blake2b(series_key(cluster, name, labels), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)
