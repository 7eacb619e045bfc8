"""Request bodies: bounded reading and bounded decompression (gzip, deflate, snappy).

Both limits are enforced while reading/inflating, so an oversized upload or a
decompression bomb is refused (413) without ever being held in memory whole.

>>> decompress(b"abc", "identity", 10)
b'abc'
>>> decompress(__import__("gzip").compress(b"x" * 20), "gzip", 100)
b'xxxxxxxxxxxxxxxxxxxx'
"""

from __future__ import annotations

import zlib

import cramjam
from starlette.requests import ClientDisconnect, Request

from connectors.receivers.base import PayloadError


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw request body; 413 as soon as it exceeds ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadError(f"body of {declared} bytes exceeds the limit of {max_bytes}", 413,
                           "too_large")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise PayloadError(f"body exceeds the limit of {max_bytes} bytes", 413,
                                   "too_large")
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise PayloadError("client disconnected before sending the whole body", 400,
                           "disconnected") from exc
    return b"".join(chunks)


def decompress(data: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """Undo ``Content-Encoding``; 413 when the inflated body would exceed ``max_bytes``."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return data
    if enc in ("gzip", "x-gzip", "deflate"):
        return _inflate(data, enc, max_bytes)
    if enc == "snappy":
        return snappy_block(data, max_bytes)
    raise PayloadError(f"unsupported Content-Encoding {encoding!r} (gzip, deflate, snappy)",
                       415, "bad_encoding")


def _inflate(data: bytes, enc: str, max_bytes: int) -> bytes:
    wbits = 16 + zlib.MAX_WBITS if enc != "deflate" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise PayloadError(f"body is not valid {enc}: {exc}", 400, "bad_encoding") from exc
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise PayloadError(f"decompressed body exceeds the limit of {max_bytes} bytes", 413,
                           "too_large")
    if not inflater.eof:
        raise PayloadError(f"truncated {enc} body", 400, "bad_encoding")
    return out


def snappy_block(data: bytes, max_bytes: int) -> bytes:
    """Snappy block format (what Loki and Prometheus remote-write use)."""
    length = _uvarint_prefix(data)
    if length > max_bytes:
        raise PayloadError(f"snappy body inflates to {length} bytes, over the limit of "
                           f"{max_bytes}", 413, "too_large")
    try:
        return bytes(cramjam.snappy.decompress_raw(data))
    except Exception as exc:  # noqa: BLE001 - cramjam raises its own DecompressionError
        raise PayloadError(f"body is not valid snappy: {exc}", 400, "bad_encoding") from exc


def _uvarint_prefix(data: bytes) -> int:
    """The uncompressed length a snappy block starts with."""
    value = shift = 0
    for i, byte in enumerate(data[:10]):
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
        shift += 7
        if i == 9:
            break
    raise PayloadError("body is not valid snappy: bad length prefix", 400, "bad_encoding")
