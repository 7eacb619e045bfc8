"""Loki pull mode: page through ``/loki/api/v1/query_range`` with a cursor.

Each page asks ``direction=forward``, ``start`` = the cursor (inclusive), ``end`` =
now minus ``lag`` (exclusive), ``limit`` lines. Loki returns the oldest ``limit``
lines of that window. The cursor is (timestamp, identities of the lines already
published at that timestamp):

* a page shorter than ``limit`` holds every line up to ``end``: the cursor moves to
  ``end`` with an empty identity set;
* a full page's last timestamp ``t`` may have more lines (other streams, same ns)
  beyond the limit: the cursor becomes ``t`` with the identities published at ``t``;
  the next page starts at ``t`` again and skips exactly those, so no line is read
  twice or skipped;
* a full page made only of already-published lines at the cursor's timestamp (more
  than ``limit`` lines share one nanosecond) is re-asked with a doubled limit.

The cursor is saved (atomically, JSON) only after Kafka acknowledged the page, so a
restart resumes where the last acknowledged page ended.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from connectors.receivers.base import BackpressureError, Delivery
from connectors.receivers.loki import LogLine, line_records
from streams.logs_setup import get_logger

log = get_logger(__name__)


def line_identity(line: LogLine) -> str:
    """A line's identity within one timestamp: its stream labels and text."""
    h = hashlib.blake2b(digest_size=12)
    h.update(json.dumps(sorted(line.labels.items())).encode())
    h.update(b"\xff")
    h.update(line.line.encode())
    return h.hexdigest()


@dataclass
class Cursor:
    """Next start (Unix ns, inclusive) and the identities already published at it."""

    ts_ns: int
    seen: set[str] = field(default_factory=set)

    def to_json(self) -> str:
        return json.dumps({"ts_ns": self.ts_ns, "seen": sorted(self.seen)})

    @classmethod
    def load(cls, path: Path | None, default_ts_ns: int) -> Cursor:
        if path is None or not path.exists():
            return cls(default_ts_ns)
        doc = json.loads(path.read_text())
        return cls(int(doc["ts_ns"]), set(doc.get("seen", [])))

    def save(self, path: Path | None) -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        os.replace(tmp, path)


def parse_streams(doc: Any) -> list[LogLine]:
    """Lines of a query_range ``streams`` answer, oldest first."""
    if not isinstance(doc, dict) or doc.get("status") != "success":
        raise ValueError(f"query_range failed: {str(doc)[:200]}")
    data = doc.get("data") or {}
    if data.get("resultType") != "streams":
        raise ValueError(f"query_range returned {data.get('resultType')!r}, need a log query")
    lines: list[LogLine] = []
    for stream in data.get("result") or []:
        labels = {str(k): str(v) for k, v in (stream.get("stream") or {}).items()}
        for value in stream.get("values") or []:
            md = value[2] if len(value) > 2 and isinstance(value[2], dict) else {}
            flat = md.get("structuredMetadata", md) if isinstance(md, dict) else {}
            lines.append(LogLine(labels, int(value[0]), str(value[1]),
                                 {str(k): str(v) for k, v in flat.items()}))
    lines.sort(key=lambda ln: ln.ts_ns)
    return lines


class LokiPuller:
    """Polls a Loki for one LogQL selector and publishes new lines to ``aiops.logs``."""

    source = "loki-pull"

    def __init__(
        self,
        url: str,
        query: str,
        delivery: Delivery,
        *,
        default_cluster: str,
        limit: int = 5000,
        interval_s: float = 10.0,
        lag_s: float = 5.0,
        cursor_path: Path | None = None,
        start_ns: int | None = None,
        client: httpx.Client | None = None,
        max_limit: int = 1_000_000,
    ) -> None:
        self.url = url.rstrip("/") + "/loki/api/v1/query_range"
        self.query = query
        self.delivery = delivery
        self.default_cluster = default_cluster
        self.limit = limit
        self.max_limit = max_limit
        self.interval_s = interval_s
        self.lag_ns = int(lag_s * 1e9)
        self.cursor_path = cursor_path
        self.cursor = Cursor.load(cursor_path, start_ns if start_ns is not None
                                  else time.time_ns() - 3600 * 10**9)
        self.client = client or httpx.Client(timeout=30.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one page ----------------------------------------------------------------
    def pull_page(self, end_ns: int, limit: int) -> tuple[int, bool]:
        """Fetch, publish and advance over one page; (lines published, caught up)."""
        start = self.cursor.ts_ns
        if start >= end_ns:
            return 0, True
        resp = self.client.get(self.url, params={
            "query": self.query, "start": str(start), "end": str(end_ns),
            "limit": str(limit), "direction": "forward"})
        resp.raise_for_status()
        lines = parse_streams(resp.json())
        fresh = [ln for ln in lines
                 if not (ln.ts_ns == start and line_identity(ln) in self.cursor.seen)]
        metrics = self.delivery.metrics
        metrics.received.labels(self.source, "logs").inc(len(fresh))
        records = line_records(fresh, default_cluster=self.default_cluster,
                               source=self.source, now_ms=int(time.time() * 1000))
        self.delivery.deliver(self.source, "logs", records)
        if len(lines) < limit:
            self.cursor = Cursor(end_ns)
            caught_up = True
        else:
            last = lines[-1].ts_ns
            at_last = {line_identity(ln) for ln in lines if ln.ts_ns == last}
            if last == start:
                at_last |= self.cursor.seen
            self.cursor = Cursor(last, at_last)
            caught_up = False
        self.cursor.save(self.cursor_path)
        return len(fresh), caught_up

    def pull(self, end_ns: int | None = None) -> int:
        """Read everything up to ``end_ns`` (default now - lag); returns lines published."""
        end = end_ns if end_ns is not None else time.time_ns() - self.lag_ns
        total = 0
        limit = self.limit
        while not self._stop.is_set():
            before = (self.cursor.ts_ns, len(self.cursor.seen))
            published, caught_up = self.pull_page(end, limit)
            total += published
            if caught_up:
                return total
            if published == 0 and (self.cursor.ts_ns, len(self.cursor.seen)) == before:
                if limit >= self.max_limit:
                    raise RuntimeError(f"more than {self.max_limit} lines share one timestamp")
                limit *= 2  # every line of the page shares the cursor's nanosecond
            else:
                limit = self.limit
        return total

    # -- background loop -----------------------------------------------------------
    def start(self) -> None:
        """Poll in a background thread until :meth:`stop`."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="loki-pull", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                n = self.pull()
                if n:
                    log.info("loki lines pulled", lines=n, cursor_ns=self.cursor.ts_ns)
            except BackpressureError as exc:
                log.warning("loki pull paused: kafka not acknowledging", reason=exc.reason)
            except (httpx.HTTPError, ValueError, RuntimeError) as exc:
                self.delivery.metrics.errors.labels(self.source, type(exc).__name__).inc()
                log.warning("loki pull failed; will retry", error=repr(exc))
            self._stop.wait(self.interval_s)
