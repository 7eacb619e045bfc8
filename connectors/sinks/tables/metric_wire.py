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

HEADER = 10  # C3 01 + 8-byte fingerprint


@dataclass(frozen=True, slots=True)
class MetricColumns:
    """The per-sample columns of one MetricBatch (labels and names left out)."""

    cluster: str
    timestamps: np.ndarray  # int64 ms
    series_ids: np.ndarray  # int64
    values: np.ndarray  # float64
    types: np.ndarray  # uint8 MetricType index


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """One zigzag varint at ``pos``: (value, next position)."""
    shift = result = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _zigzag_bytes(n: int) -> bytes:
    u = (n << 1) ^ (n >> 63)
    out = bytearray()
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


def _varint_array(arr: np.ndarray, pos: int, n: int) -> tuple[np.ndarray, int]:
    """``n`` zigzag varints starting at ``pos``: (int64 values, next position)."""
    window = arr[pos: pos + 10 * n]
    ends = np.flatnonzero(window < 0x80)[:n]
    if len(ends) < n:
        raise ValueError("truncated varint array")
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    if lengths.max() > 10:
        raise ValueError("varint too long")
    used = int(ends[-1]) + 1
    shifts = (np.arange(used) - np.repeat(starts, lengths)).astype(np.uint64) * np.uint64(7)
    parts = (window[:used] & 0x7F).astype(np.uint64) << shifts
    raw = np.add.reduceat(parts, starts)
    values = (raw >> np.uint64(1)).astype(np.int64) ^ -(raw & np.uint64(1)).astype(np.int64)
    return values, pos + used


def read_columns(payload: bytes, n_types: int = 5) -> MetricColumns | None:
    """The sample columns of a MetricBatch payload, or None when the fast path does not apply."""
    try:
        pos = HEADER
        strings = []
        for _ in range(4):  # batch_id, cluster, source, target
            size, pos = _varint(payload, pos)
            if size < 0:
                return None
            strings.append(payload[pos:pos + size])
            pos += size
        cluster = strings[1]
        _, pos = _varint(payload, pos)  # scrape_ts
        n, pos = _varint(payload, pos)
        if n <= 0:
            return None
        arr = np.frombuffer(payload, dtype=np.uint8)
        timestamps, pos = _varint_array(arr, pos, n)
        if payload[pos] != 0:
            return None
        count, pos = _varint(payload, pos + 1)
        if count != n:
            return None
        series_ids, pos = _varint_array(arr, pos, n)
        if payload[pos] != 0:
            return None
        # tail: values block (count, n doubles, 0) then types block (count, n bytes, 0)
        count_bytes = _zigzag_bytes(n)
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

