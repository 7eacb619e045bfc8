"""Avro binary primitives for the hot paths that skip fastavro (columnar encode and decode).

The codec (``schemas/codec.py``) stays the reference: tests check these fast paths produce
and read exactly its bytes.

>>> write_long(-3), read_long(write_long(-3) + b"x", 0)
(b'\\x05', (-3, 1))
>>> import numpy as np
>>> buf = np.frombuffer(write_long(1) + write_long(-300) + write_long(2**40), dtype=np.uint8)
>>> read_long_array(buf, 0, 3)[0].tolist()
[1, -300, 1099511627776]
"""

from __future__ import annotations

import numpy as np


def write_long(n: int) -> bytes:
    """Avro ``long`` / ``int``: a zig-zag varint."""
    u = (n << 1) ^ (n >> 63)
    out = bytearray()
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


def write_string(s: str) -> bytes:
    """Avro ``string``: length, then UTF-8."""
    raw = s.encode()
    return write_long(len(raw)) + raw


def read_long(buf: bytes, pos: int) -> tuple[int, int]:
    """One zig-zag varint at ``pos``: (value, next position)."""
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


def read_long_array(arr: np.ndarray, pos: int, n: int) -> tuple[np.ndarray, int]:
    """``n`` consecutive zig-zag varints from ``pos`` of a uint8 array, vectorised."""
    if n == 0:
        return np.zeros(0, dtype=np.int64), pos
    window = arr[pos: pos + 10 * n]
    ends = np.flatnonzero(window < 0x80)
    if len(ends) < n:
        raise ValueError("truncated varint array")
    ends = ends[:n]
    size = int(ends[-1]) + 1
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    if lengths.max() > 10:
        raise ValueError("varint too long")
    shift = (np.arange(size, dtype=np.int64) - np.repeat(starts, lengths)) * 7
    parts = (window[:size].astype(np.uint64) & np.uint64(0x7F)) << shift.astype(np.uint64)
    u = np.add.reduceat(parts, starts)
    signed = (u >> np.uint64(1)).astype(np.int64) ^ -(u & np.uint64(1)).astype(np.int64)
    return signed, pos + size
