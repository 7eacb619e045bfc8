"""Live-stream event ids: the relay's Kafka position, so a client can resume exactly.

An id is the *next offset to read* of every partition of the relayed topics just
after its event, packed as unsigned varints (topic index, partition, offset) and
base64url-encoded behind a version letter. Resuming from an id replays every
record from those offsets: nothing the client missed, nothing it already had.

>>> codec = CursorCodec(["aiops.anomalies", "aiops.incidents"])
>>> text = codec.encode({("aiops.anomalies", 0): 15, ("aiops.incidents", 1): 300})
>>> text
'AAgAADwEBrAI'
>>> codec.decode(text) == {("aiops.anomalies", 0): 15, ("aiops.incidents", 1): 300}
True
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence

VERSION = "A"
Positions = dict[tuple[str, int], int]


class CursorError(ValueError):
    """An event id that is not one of ours (or names a topic this API does not relay)."""


def _varint(n: int, out: bytearray) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _varints(data: bytes) -> list[int]:
    out, n, shift = [], 0, 0
    for b in data:
        n |= (b & 0x7F) << shift
        if b & 0x80:
            shift += 7
            if shift > 63:
                raise CursorError("varint too long")
        else:
            out.append(n)
            n, shift = 0, 0
    if shift:
        raise CursorError("truncated varint")
    return out


class CursorCodec:
    """Encodes positions over a fixed, ordered list of relayed topics."""

    def __init__(self, topics: Sequence[str]) -> None:
        self.topics = list(topics)
        self.index = {t: i for i, t in enumerate(self.topics)}

    def encode(self, positions: Mapping[tuple[str, int], int]) -> str:
        """The id text of ``positions`` ((topic, partition) -> next offset)."""
        buf = bytearray()
        _varint(len(positions), buf)
        for (topic, partition), offset in sorted(positions.items()):
            _varint(self.index[topic], buf)
            _varint(partition, buf)
            _varint(offset, buf)
        return VERSION + base64.urlsafe_b64encode(bytes(buf)).rstrip(b"=").decode()

    def decode(self, text: str) -> Positions:
        """Positions of an id; :class:`CursorError` when it is malformed or foreign."""
        if not text or text[0] != VERSION or len(text) > 16_384:
            raise CursorError("unknown event id format")
        body = text[1:]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError) as exc:
            raise CursorError("event id is not base64url") from exc
        values = _varints(raw)
        if not values or len(values) != 1 + 3 * values[0]:
            raise CursorError("event id has the wrong length")
        out: Positions = {}
        for i in range(values[0]):
            t, p, off = values[1 + 3 * i: 4 + 3 * i]
            if t >= len(self.topics):
                raise CursorError("event id names a topic this API does not relay")
            out[(self.topics[t], p)] = off
        return out
