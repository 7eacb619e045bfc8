"""Fast MetricBatch encoding: the static columns of a target are encoded once.

A target's series ids, names, labels and types never change between ticks, so their Avro bytes
are kept; a tick only writes the batch id, the timestamps and the values (one numpy
``tobytes``). The result is byte-for-byte what :class:`schemas.codec.Codec` writes (Avro
single-object framing), which the tests check.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np

from schemas.avro_wire import write_long, write_string
from schemas.codec import SINGLE_OBJECT_MAGIC, load_schema
from schemas.codec import fingerprint as schema_fingerprint
from streams.simulator.series import Target

TYPE_INDEX = {"GAUGE": 0, "COUNTER": 1, "HISTOGRAM": 2, "SUMMARY": 3, "UNTYPED": 4}






def _array(items: list[bytes]) -> bytes:
    if not items:
        return b"\x00"
    return write_long(len(items)) + b"".join(items) + b"\x00"


def _map(m: dict[str, str]) -> bytes:
    if not m:
        return b"\x00"
    return write_long(len(m)) + b"".join(write_string(k) + write_string(v)
                                        for k, v in m.items()) + b"\x00"


def batch_id(*parts: object) -> str:
    """A deterministic 32-hex batch id (so same seed gives identical bytes)."""
    return hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=16).hexdigest()


class TargetEncoder:
    """Encodes one target's MetricBatch per tick from its cached static bytes."""

    def __init__(self, cluster: str, source: str, target: Target) -> None:
        self.n = len(target.names)
        self.header = SINGLE_OBJECT_MAGIC + struct.pack(
            "<Q", schema_fingerprint(load_schema("metric_batch")))
        self.ident = write_string(cluster) + write_string(source) + write_string(target.name)
        self.middle = (_array([write_long(i) for i in target.series_ids])
                       + _array([write_string(s) for s in target.names])
                       + _array([_map(m) for m in target.labels]))
        self.types = _array([write_long(TYPE_INDEX[t]) for t in target.types])
        self.count = write_long(self.n) if self.n else b""

    def encode(self, bid: str, ts: int, values: np.ndarray) -> bytes:
        """The single-object-encoded MetricBatch for one tick."""
        if self.n == 0:
            return (self.header + write_string(bid) + self.ident + write_long(ts) + b"\x00"
                    + self.middle + b"\x00" + self.types)
        stamps = self.count + write_long(ts) * self.n + b"\x00"
        vals = self.count + values.astype("<f8").tobytes() + b"\x00"
        return (self.header + write_string(bid) + self.ident + write_long(ts) + stamps
                + self.middle + vals + self.types)
