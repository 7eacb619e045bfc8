"""Fast MetricBatch encoding from per-series pre-encoded Avro pieces.

A scrape repeats the same series every interval, so each series' Avro bytes
(series id, name, label map, type) are encoded once (:class:`SeriesEntry`) and a
batch is assembled by concatenating them column by column; only values (and
timestamps that differ from the scrape time) are encoded per scrape. The bytes
are exactly what fastavro writes for ``schemas/avro/metric_batch.avsc`` with the
single-object framing, so ``Codec("metric_batch").decode`` reads them (a test
checks it record for record). With a schema registry configured the caller uses
``Codec.encode`` instead.

>>> e = SeriesEntry.build("c1", "up", {"job": "x"}, "GAUGE")
>>> from schemas.codec import Codec
>>> raw = encode_metric_batch("b1", "c1", "prometheus", "x", 1000, [e], [1.0], [1000])
>>> Codec("metric_batch").decode(raw)["labels"]
[{'job': 'x'}]
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from schemas.codec import SINGLE_OBJECT_MAGIC, Codec, load_schema
from schemas.series import series_id


def zigzag_long(n: int) -> bytes:
    """Avro ``long``: zig-zag varint."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def avro_string(s: str) -> bytes:
    """Avro ``string``: length + UTF-8."""
    raw = s.encode()
    return zigzag_long(len(raw)) + raw


def avro_string_map(m: Mapping[str, str]) -> bytes:
    """Avro ``map<string>`` as one block (or the empty map)."""
    if not m:
        return b"\x00"
    return zigzag_long(len(m)) + b"".join(
        avro_string(k) + avro_string(v) for k, v in m.items()) + b"\x00"


@lru_cache(maxsize=1)
def _type_index() -> dict[str, bytes]:
    schema = load_schema("metric_batch")
    types = next(f for f in schema["fields"] if f["name"] == "types")
    symbols = types["type"]["items"]["symbols"]
    return {sym: zigzag_long(i) for i, sym in enumerate(symbols)}


@lru_cache(maxsize=65536)
def _name_bytes(name: str) -> bytes:
    """Encoded metric names, shared by every series of a name."""
    return avro_string(name)


@lru_cache(maxsize=1)
def _header() -> bytes:
    return SINGLE_OBJECT_MAGIC + struct.pack("<Q", Codec("metric_batch").fingerprint)


@dataclass(slots=True)
class SeriesEntry:
    """One series' identity and its pre-encoded Avro pieces."""

    name: str
    labels: dict[str, str]
    series_id: int
    mtype: str
    enc_id: bytes
    enc_name: bytes
    enc_labels: bytes
    enc_type: bytes

    @classmethod
    def build(cls, cluster: str, name: str, labels: dict[str, str], mtype: str) -> SeriesEntry:
        sid = series_id(cluster, name, labels)
        try:
            enc_type = _type_index()[mtype]
        except KeyError:
            raise ValueError(f"unknown metric type {mtype!r}") from None
        return cls(name, labels, sid, mtype, zigzag_long(sid), _name_bytes(name),
                   avro_string_map(labels), enc_type)


def _array(n: int, body: bytes) -> bytes:
    return zigzag_long(n) + body + b"\x00" if n else b"\x00"


if sys.byteorder == "little":
    def _doubles(values: Sequence[float]) -> bytes:
        return array("d", values).tobytes()
else:  # pragma: no cover - big-endian hosts
    def _doubles(values: Sequence[float]) -> bytes:
        return struct.pack(f"<{len(values)}d", *values)


def encode_metric_batch(
    batch_id: str, cluster: str, source: str, target: str, scrape_ts: int,
    entries: Sequence[SeriesEntry], values: Sequence[float], timestamps: Sequence[int],
) -> bytes:
    """A single-object-encoded MetricBatch, byte-identical to ``Codec.encode``."""
    n = len(entries)
    if len(values) != n or len(timestamps) != n:
        raise ValueError("entries, values and timestamps must have equal lengths")
    first = timestamps[0] if n else scrape_ts
    if n and timestamps.count(first) == n:
        ts_body = zigzag_long(first) * n
    else:
        ts_body = b"".join(map(zigzag_long, timestamps))
    return b"".join((
        _header(),
        avro_string(batch_id), avro_string(cluster), avro_string(source), avro_string(target),
        zigzag_long(scrape_ts),
        _array(n, ts_body),
        _array(n, b"".join([e.enc_id for e in entries])),
        _array(n, b"".join([e.enc_name for e in entries])),
        _array(n, b"".join([e.enc_labels for e in entries])),
        _array(n, _doubles(values)),
        _array(n, b"".join([e.enc_type for e in entries])),
    ))
