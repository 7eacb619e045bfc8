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

from schemas.avro_wire import read_long, read_long_array, write_long
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






def decode_columns(payload: bytes) -> MetricColumns | None:
    """The numeric columns, or ``None`` when the payload needs the full decoder."""
    head = _header()
    if len(payload) < 12 or payload[:10] != head:
        return None
    try:
        pos = 10
        strings = []
        for _ in range(4):  # batch_id, cluster, source, target
            length, pos = read_long(payload, pos)
            strings.append(payload[pos: pos + length])
            pos += length
        scrape_ts, pos = read_long(payload, pos)
        arr = np.frombuffer(payload, dtype=np.uint8)
        n, pos = read_long(payload, pos)
        if n < 0:
            return None
        if n == 0:
            return _empty(strings[1].decode(), strings[3].decode(), scrape_ts)
        ts, pos = read_long_array(arr, pos, n)
        if payload[pos] != 0:
            return None
        pos += 1
        n_ids, pos = read_long(payload, pos)
        if n_ids != n:
            return None
        ids, pos = read_long_array(arr, pos, n)
        if payload[pos] != 0 or read_long(payload, pos + 1)[0] != n:  # names: one block of n
            return None
        # From the back: ... [zz(n)] [8n value bytes] 0 [zz(n)] [n type bytes] 0
        count = write_long(n)
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
