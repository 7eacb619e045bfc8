"""Bounded FIFO spools for records Kafka could not take (broker unreachable).

Two implementations with one interface:

* :class:`DiskSpool`: append-only segment files in a directory; survives a
  restart (the next publisher replays what is left). Records are framed with a
  CRC32 so a torn write at a crash is detected and skipped, never replayed as garbage.
* :class:`MemorySpool`: the same semantics in memory (no spool directory configured).

When the spool exceeds ``max_bytes`` the OLDEST records are dropped and counted in
``dropped`` (disk: one whole segment at a time, segments are ``max_bytes / 16``).

>>> s = MemorySpool(max_bytes=100)
>>> s.append("t", b"k", b"v" * 40); s.append("t", b"k", b"w" * 40); s.append("t", b"k", b"x")
>>> (len(s), s.dropped)
(2, 1)
>>> token, rec = s.peek(); rec.value[:1]
b'w'
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from streams.logs_setup import get_logger

log = get_logger(__name__)

# crc32, topic length, key length (0xFFFFFFFF = None), value length
_HEADER = struct.Struct("<IHII")
_NO_KEY = 0xFFFFFFFF
_SUFFIX = ".spool"


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """One Kafka message waiting for the broker."""

    topic: str
    key: bytes | None
    value: bytes

    @property
    def size(self) -> int:
        return _HEADER.size + len(self.topic) + len(self.key or b"") + len(self.value)


def _frame(rec: SpoolRecord) -> bytes:
    topic = rec.topic.encode()
    key = rec.key or b""
    body = topic + key + rec.value
    klen = _NO_KEY if rec.key is None else len(key)
    head = struct.pack("<HII", len(topic), klen, len(rec.value))
    return struct.pack("<I", zlib.crc32(head + body)) + head + body


class Spool:
    """FIFO interface: ``append``, ``peek`` -> (token, record), ``pop(token)``."""

    max_bytes: int
    dropped: int

    def append(self, topic: str, key: bytes | None, value: bytes) -> None:
        raise NotImplementedError

    def peek(self) -> tuple[object, SpoolRecord] | None:
        """The oldest record and a token naming it; None when empty."""
        raise NotImplementedError

    def pop(self, token: object) -> bool:
        """Remove the oldest record if it is still the one ``token`` names."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def bytes(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Release files (records stay on disk for the next start)."""


class MemorySpool(Spool):
    """In-memory bounded FIFO (lost on exit: configure a spool dir for durability)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.dropped = 0
        self._items: deque[tuple[int, SpoolRecord]] = deque()
        self._bytes = 0
        self._seq = 0

    def append(self, topic: str, key: bytes | None, value: bytes) -> None:
        rec = SpoolRecord(topic, key, value)
        self._seq += 1
        self._items.append((self._seq, rec))
        self._bytes += rec.size
        while self._bytes > self.max_bytes and self._items:
            _, old = self._items.popleft()
            self._bytes -= old.size
            self.dropped += 1

    def peek(self) -> tuple[object, SpoolRecord] | None:
        return self._items[0] if self._items else None

    def pop(self, token: object) -> bool:
        if self._items and self._items[0][0] == token:
            _, rec = self._items.popleft()
            self._bytes -= rec.size
            return True
        return False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes


@dataclass
class _Segment:
    seq: int
    path: Path
    size: int = 0
    records: int = 0


class DiskSpool(Spool):
    """Segment files ``<seq>.spool`` under ``directory``; oldest segment dropped when full."""

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int | None = None) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes or max(min(max_bytes // 16, 8 << 20), 4096)
        self.dropped = 0
        self.corrupt = 0
        self._segments: deque[_Segment] = deque()
        self._count = 0
        # read cursor in the head segment: byte offset and records consumed
        self._read_off = 0
        self._read_recs = 0
        self._reader = None
        self._writer = None
        self._next: tuple[tuple[int, int], SpoolRecord, int] | None = None
        self._recover()

    # -- start-up ------------------------------------------------------------
    def _recover(self) -> None:
        for path in sorted(self.dir.glob(f"*{_SUFFIX}")):
            try:
                seq = int(path.stem)
            except ValueError:
                continue
            seg = _Segment(seq, path)
            for _rec, _end in self._scan(path, 0):
                seg.records += 1
            seg.size = path.stat().st_size
            if seg.records == 0:
                path.unlink()
                continue
            self._segments.append(seg)
            self._count += seg.records
        if self._count:
            log.info("spool recovered", records=self._count, bytes=self.bytes, dir=str(self.dir))

    def _scan(self, path: Path, offset: int):
        """Yield (record, end offset) from offset; stop at the first torn/corrupt frame."""
        with open(path, "rb") as fh:
            fh.seek(offset)
            while True:
                rec = self._read_one(fh, path)
                if rec is None:
                    return
                yield rec, fh.tell()

    def _read_one(self, fh, path: Path) -> SpoolRecord | None:
        head = fh.read(_HEADER.size)
        if not head:
            return None
        if len(head) < _HEADER.size:
            self._mark_corrupt(path, "truncated header")
            return None
        crc, tlen, klen, vlen = _HEADER.unpack(head)
        blen = tlen + (0 if klen == _NO_KEY else klen) + vlen
        body = fh.read(blen)
        if len(body) < blen or zlib.crc32(head[4:] + body) != crc:
            self._mark_corrupt(path, "torn or corrupt record")
            return None
        topic = body[:tlen].decode()
        if klen == _NO_KEY:
            key, value = None, body[tlen:]
        else:
            key, value = body[tlen : tlen + klen], body[tlen + klen :]
        return SpoolRecord(topic, key, value)

    def _mark_corrupt(self, path: Path, why: str) -> None:
        self.corrupt += 1
        log.warning("spool segment ends in a bad frame; the rest is skipped", path=str(path),
                    reason=why)

    # -- writing -------------------------------------------------------------
    def append(self, topic: str, key: bytes | None, value: bytes) -> None:
        frame = _frame(SpoolRecord(topic, key, value))
        tail = self._segments[-1] if self._segments else None
        if tail is None or self._writer is None or tail.size >= self.segment_bytes:
            tail = self._new_segment()
        assert self._writer is not None
        self._writer.write(frame)
        self._writer.flush()
        tail.size += len(frame)
        tail.records += 1
        self._count += 1
        while self.bytes > self.max_bytes and len(self._segments) > 1:
            self._drop_head()

    def _new_segment(self) -> _Segment:
        if self._writer is not None:
            self._writer.close()
        seq = (self._segments[-1].seq + 1) if self._segments else 1
        seg = _Segment(seq, self.dir / f"{seq:012d}{_SUFFIX}")
        self._writer = open(seg.path, "ab")  # noqa: SIM115 - kept open for appends
        self._segments.append(seg)
        return seg

    def _drop_head(self) -> None:
        seg = self._segments.popleft()
        lost = seg.records - self._read_recs
        self.dropped += lost
        self._count -= lost
        self._close_reader()
        self._read_off = self._read_recs = 0
        self._next = None
        seg.path.unlink(missing_ok=True)
        log.warning("spool full: dropped the oldest segment", records=lost,
                    max_bytes=self.max_bytes)

    # -- reading -------------------------------------------------------------
    def peek(self) -> tuple[object, SpoolRecord] | None:
        if self._next is not None:
            return self._next[0], self._next[1]
        while self._segments:
            head = self._segments[0]
            if self._read_recs < head.records:
                if self._writer is not None and head is self._segments[-1]:
                    self._writer.flush()
                if self._reader is None:
                    self._reader = open(head.path, "rb")  # noqa: SIM115
                    self._reader.seek(self._read_off)
                rec = self._read_one(self._reader, head.path)
                if rec is not None:
                    end = self._reader.tell()
                    self._next = ((head.seq, self._read_off), rec, end)
                    return self._next[0], rec
                # corrupt tail of this segment: count what is unreadable as lost
                lost = head.records - self._read_recs
                self.dropped += lost
                self._count -= lost
                head.records = self._read_recs
            self._retire_head()
        return None

    def pop(self, token: object) -> bool:
        if self._next is None or self._next[0] != token:
            return False
        _token, _rec, end = self._next
        self._next = None
        self._read_recs += 1
        self._read_off = end
        self._count -= 1
        head = self._segments[0]
        if self._read_recs >= head.records and (
            head is not self._segments[-1] or self._count == 0
        ):
            self._retire_head()
        return True

    def _retire_head(self) -> None:
        seg = self._segments.popleft()
        self._close_reader()
        if self._writer is not None and not self._segments:
            self._writer.close()
            self._writer = None
        self._read_off = self._read_recs = 0
        seg.path.unlink(missing_ok=True)

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __len__(self) -> int:
        return self._count

    @property
    def bytes(self) -> int:
        return sum(seg.size for seg in self._segments) - self._read_off

    def close(self) -> None:
        self._close_reader()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
