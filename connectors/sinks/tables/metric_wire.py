"""Vectorised reader for the fixed-width parts of a MetricBatch body.

fastavro builds a Python object per label string, which caps a sink near 300k
samples/s. The sample count, timestamps and series ids sit at the front of the
body and values and types at the back, so numpy reads them without touching the
names/labels region; the labels of a series come from :mod:`series_cache`, filled
by a full decode the first time a series is seen.

Only the current writer schema in single-object framing and single-block arrays
(what fastavro and the Java encoder write) take this path; anything else returns
``None`` and the caller decodes fully.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schemas.avro_wire import read_long, read_long_array, write_long

HEADER = 10  # C3 01 + 8-byte fingerprint


@dataclass(frozen=True, slots=True)
class MetricColumns:
    """The per-sample columns of one MetricBatch (labels and names left out)."""

    cluster: str
    timestamps: np.ndarray  # int64 ms
    series_ids: np.ndarray  # int64
    values: np.ndarray  # float64
    types: np.ndarray  # uint8 MetricType index








def read_columns(payload: bytes, n_types: int = 5) -> MetricColumns | None:
    """The sample columns of a MetricBatch payload, or None when the fast path does not apply."""
    try:
        pos = HEADER
        strings = []
        for _ in range(4):  # batch_id, cluster, source, target
            size, pos = read_long(payload, pos)
            if size < 0:
                return None
            strings.append(payload[pos:pos + size])
            pos += size
        cluster = strings[1]
        _, pos = read_long(payload, pos)  # scrape_ts
        n, pos = read_long(payload, pos)
        if n <= 0:
            return None
        arr = np.frombuffer(payload, dtype=np.uint8)
        timestamps, pos = read_long_array(arr, pos, n)
        if payload[pos] != 0:
            return None
        count, pos = read_long(payload, pos + 1)
        if count != n:
            return None
        series_ids, pos = read_long_array(arr, pos, n)
        if payload[pos] != 0:
            return None
        # tail: values block (count, n doubles, 0) then types block (count, n bytes, 0)
        count_bytes = write_long(n)
        end = len(payload)
        t_start = end - 1 - n
        v_end = t_start - len(count_bytes)
        v_start = v_end - 1 - 8 * n
        if (payload[end - 1] != 0 or payload[v_end - 1] != 0
                or payload[v_end:t_start] != count_bytes
                or payload[v_start - len(count_bytes):v_start] != count_bytes
                or v_start - len(count_bytes) <= pos):
            return None
        types = arr[t_start:end - 1]
        if types.max() >= 2 * n_types or (types & 1).any():
            return None
        values = np.frombuffer(payload, dtype="<f8", count=n, offset=v_start)
        return MetricColumns(cluster.decode(), timestamps, series_ids, values, types >> 1)
    except (IndexError, ValueError, UnicodeDecodeError):
        return None

