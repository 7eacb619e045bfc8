"""The outage spools: FIFO order, bounds, restart recovery, torn writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.publish.spool import DiskSpool, MemorySpool, Spool


def drain(spool: Spool) -> list[bytes]:
    out = []
    while (head := spool.peek()) is not None:
        token, rec = head
        assert spool.pop(token)
        out.append(rec.value)
    return out


@pytest.mark.parametrize("kind", ["disk", "memory"])
def test_fifo_order_and_keys(tmp_path: Path, kind: str) -> None:
    spool = DiskSpool(tmp_path, 1 << 20, 256) if kind == "disk" else MemorySpool(1 << 20)
    for i in range(500):
        spool.append("t", None if i % 7 == 0 else f"k{i}".encode(), f"v{i}".encode())
    assert len(spool) == 500
    token, rec = spool.peek()
    assert rec.key is None and rec.value == b"v0"
    assert spool.peek()[0] == token  # peek is idempotent
    assert drain(spool) == [f"v{i}".encode() for i in range(500)]
    assert len(spool) == 0 and spool.bytes == 0
    if kind == "disk":
        assert list(tmp_path.glob("*.spool")) == []


def test_pop_with_stale_token_is_refused(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, 1 << 20)
    spool.append("t", b"k", b"a")
    spool.append("t", b"k", b"b")
    token, _ = spool.peek()
    assert spool.pop(token)
    assert not spool.pop(token)
    assert spool.peek()[1].value == b"b"


def test_disk_spool_drops_oldest_segment_when_full(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, max_bytes=10_000, segment_bytes=1_000)
    for i in range(1_000):
        spool.append("t", b"k", f"{i:06d}".encode() * 10)
    assert spool.bytes <= 10_000
    assert spool.dropped > 0
    assert spool.dropped + len(spool) == 1_000
    values = drain(spool)
    # what is left is the newest, contiguous, in order
    first = int(values[0][:6])
    assert values == [f"{i:06d}".encode() * 10 for i in range(first, 1_000)]


def test_memory_spool_drops_oldest_record(tmp_path: Path) -> None:
    spool = MemorySpool(max_bytes=1_000)
    for i in range(100):
        spool.append("t", b"k", f"{i:04d}".encode() * 10)
    assert spool.bytes <= 1_000 and spool.dropped + len(spool) == 100
    values = drain(spool)
    assert values[-1] == b"0099" * 10 and len(values) == len(set(values))


def test_disk_spool_survives_restart_and_appends_after_recovery(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, 1 << 20, 200)
    for i in range(50):
        spool.append("t", b"k", f"v{i}".encode())
    token, _ = spool.peek()
    spool.pop(token)  # consumed one before the "crash" (consumption is not persisted)
    spool.close()
    again = DiskSpool(tmp_path, 1 << 20, 200)
    assert len(again) == 50  # at-least-once: the popped record comes back
    again.append("t", b"k", b"new")
    assert drain(again) == [f"v{i}".encode() for i in range(50)] + [b"new"]


def test_torn_write_is_detected_and_skipped(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, 1 << 20)
    for i in range(10):
        spool.append("t", b"k", f"v{i}".encode())
    spool.close()
    (seg,) = tmp_path.glob("*.spool")
    data = seg.read_bytes()
    seg.write_bytes(data[:-3])  # crash in the middle of the last record
    again = DiskSpool(tmp_path, 1 << 20)
    assert again.corrupt == 1
    assert drain(again) == [f"v{i}".encode() for i in range(9)]
