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

from schemas.avro_wire import write_long, write_string
from schemas.codec import SINGLE_OBJECT_MAGIC, Codec, load_schema
from schemas.series import series_id


def avro_string_map(m: Mapping[str, str]) -> bytes:
    """Avro ``map<string>`` as one block (or the empty map)."""
    if not m:
        return b"\x00"
    return write_long(len(m)) + b"".join(
        write_string(k) + write_string(v) for k, v in m.items()) + b"\x00"


@lru_cache(maxsize=1)
def _type_index() -> dict[str, bytes]:
    schema = load_schema("metric_batch")
    types = next(f for f in schema["fields"] if f["name"] == "types")
    symbols = types["type"]["items"]["symbols"]
    return {sym: write_long(i) for i, sym in enumerate(symbols)}


@lru_cache(maxsize=65536)
def _name_bytes(name: str) -> bytes:
    """Encoded metric names, shared by every series of a name."""
    return write_string(name)


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
        return cls(name, labels, sid, mtype, write_long(sid), _name_bytes(name),
                   avro_string_map(labels), enc_type)


def _array(n: int, body: bytes) -> bytes:
    return write_long(n) + body + b"\x00" if n else b"\x00"


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
        ts_body = write_long(first) * n
    else:
        ts_body = b"".join(map(write_long, timestamps))
    return b"".join((
        _header(),
        write_string(batch_id), write_string(cluster), write_string(source), write_string(target),
        write_long(scrape_ts),
        _array(n, ts_body),
        _array(n, b"".join([e.enc_id for e in entries])),
        _array(n, b"".join([e.enc_name for e in entries])),
        _array(n, b"".join([e.enc_labels for e in entries])),
        _array(n, _doubles(values)),
        _array(n, b"".join([e.enc_type for e in entries])),
    ))
