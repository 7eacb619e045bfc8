"""Hot-path columnar view of a MetricBatch: numeric columns straight from the Avro bytes.

The detector needs only ``timestamps``, ``series_ids``, ``values`` and ``types``; names and
labels are needed only when a series is first seen or an anomaly is reported.  fastavro
materialises every label map (~280k samples/s on this machine), so this module reads the
numeric columns with vectorised varint decoding and skips the strings entirely:

* front: four strings, ``scrape_ts``, then the ``timestamps`` and ``series_ids`` arrays
  (zigzag varints);
* back: the record ends with the ``values`` array (8-byte doubles) and the ``types`` array
  (one byte per enum index), each written as one block by fastavro and the Java writer.

Anything that does not match that layout exactly (another schema version, Confluent framing,
multi-block arrays) returns ``None`` and the caller falls back to the full codec decode.

>>> from schemas.batches import metric_batch
>>> from schemas.codec import Codec
>>> b = metric_batch("c1", "sim", "t", 5, names=["a", "b"], labels=[{}, {"x": "y"}],
...                  values=[1.5, -2.0], timestamps=[5, 6], types=["GAUGE", "COUNTER"])
>>> cols = decode_columns(Codec("metric_batch").encode(b))
>>> cols.cluster, cols.values.tolist(), cols.timestamps.tolist(), cols.types.tolist()
('c1', [1.5, -2.0], [5, 6], [0, 1])
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from schemas.codec import SINGLE_OBJECT_MAGIC, Codec

TYPE_SYMBOLS = ("GAUGE", "COUNTER", "HISTOGRAM", "SUMMARY", "UNTYPED")
GAUGE, COUNTER, HISTOGRAM, SUMMARY, UNTYPED = range(5)


@dataclass
class MetricColumns:
    """The numeric columns of one MetricBatch (``types`` as enum indices)."""

    cluster: str
    target: str
    scrape_ts: int
    timestamps: np.ndarray
    series_ids: np.ndarray
    values: np.ndarray
    types: np.ndarray

    def __len__(self) -> int:
        return len(self.series_ids)

    @property
    def target_key(self) -> tuple[str, str]:
        return (self.cluster, self.target)


@lru_cache(maxsize=1)
def _header() -> bytes:
    codec = Codec("metric_batch")
    return SINGLE_OBJECT_MAGIC + struct.pack("<Q", codec.fingerprint)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """One zigzag varint at ``pos``: (value, next position)."""
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _varint_array(arr: np.ndarray, pos: int, n: int) -> tuple[np.ndarray, int]:
    """``n`` consecutive zigzag varints starting at ``pos`` (vectorised)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64), pos
    window = arr[pos: pos + 10 * n]
    ends = np.flatnonzero(window < 0x80)
    if len(ends) < n:
        raise ValueError("truncated varint array")
    ends = ends[:n]
    size = int(ends[-1]) + 1
    raw = window[:size].astype(np.uint64)
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    if lengths.max() > 10:
        raise ValueError("varint too long")
    shift = (np.arange(size, dtype=np.int64) - np.repeat(starts, lengths)) * 7
    parts = (raw & np.uint64(0x7F)) << shift.astype(np.uint64)
    u = np.add.reduceat(parts, starts)
    signed = (u >> np.uint64(1)).astype(np.int64) ^ -(u & np.uint64(1)).astype(np.int64)
    return signed, pos + size


def decode_columns(payload: bytes) -> MetricColumns | None:
    """The numeric columns, or ``None`` when the payload needs the full decoder."""
    head = _header()
    if len(payload) < 12 or payload[:10] != head:
        return None
    try:
        pos = 10
        strings = []
        for _ in range(4):  # batch_id, cluster, source, target
            length, pos = _varint(payload, pos)
            strings.append(payload[pos: pos + length])
            pos += length
        scrape_ts, pos = _varint(payload, pos)
        arr = np.frombuffer(payload, dtype=np.uint8)
        n, pos = _varint(payload, pos)
        if n < 0:
            return None
        if n == 0:
            return _empty(strings[1].decode(), strings[3].decode(), scrape_ts)
        ts, pos = _varint_array(arr, pos, n)
        if payload[pos] != 0:
            return None
        pos += 1
        n_ids, pos = _varint(payload, pos)
        if n_ids != n:
            return None
        ids, pos = _varint_array(arr, pos, n)
        if payload[pos] != 0 or _varint(payload, pos + 1)[0] != n:  # names: one block of n
            return None
        # From the back: ... [zz(n)] [8n value bytes] 0 [zz(n)] [n type bytes] 0
        count = _zigzag_bytes(n)
        end = len(payload)
        if payload[end - 1] != 0:
            return None
        t0 = end - 1 - n
        types = arr[t0: end - 1]
        if payload[t0 - len(count): t0] != count or types.max() > 2 * (len(TYPE_SYMBOLS) - 1):
            return None
        v_end = t0 - len(count) - 1
        if payload[v_end] != 0:
            return None
        v0 = v_end - 8 * n
        if v0 <= pos or payload[v0 - len(count): v0] != count:
            return None
        values = np.frombuffer(payload, dtype="<f8", count=n, offset=v0)
        return MetricColumns(strings[1].decode(), strings[3].decode(), scrape_ts, ts, ids, values,
                             (types >> 1).astype(np.uint8))
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def _empty(cluster: str, target: str, scrape_ts: int) -> MetricColumns:
    z = np.zeros(0, dtype=np.int64)
    return MetricColumns(cluster, target, scrape_ts, z, z.copy(), np.zeros(0),
                         np.zeros(0, np.uint8))


def _zigzag_bytes(n: int) -> bytes:
    u = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        if u < 0x80:
            out.append(u)
            return bytes(out)
        out.append((u & 0x7F) | 0x80)
        u >>= 7


def columns_from_record(record: dict) -> MetricColumns:
    """The same columns from a fully decoded MetricBatch dict (fallback path)."""
    index = {s: i for i, s in enumerate(TYPE_SYMBOLS)}
    return MetricColumns(
        record["cluster"], record["target"], int(record["scrape_ts"]),
        np.asarray(record["timestamps"], dtype=np.int64),
        np.asarray(record["series_ids"], dtype=np.int64),
        np.asarray(record["values"], dtype=np.float64),
        np.asarray([index.get(t, UNTYPED) for t in record["types"]], dtype=np.uint8),
    )
