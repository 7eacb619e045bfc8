"""A small SSE reader for the tests (httpx streaming)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx


class SseReader(threading.Thread):
    """Collects events of one SSE connection until ``stop`` or ``deadline_s``."""

    def __init__(self, url: str, token: str, params: dict[str, Any] | None = None,
                 deadline_s: float = 30.0, headers: dict[str, str] | None = None) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.params, self.deadline_s = url, token, params or {}, deadline_s
        self.headers = headers or {}
        self.events: list[tuple[str, dict]] = []
        self.ids: list[str | None] = []  # the ``id:`` of each entry of ``events``
        self.body: str = ""
        self.connected = threading.Event()
        self.status: int | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        end = time.monotonic() + self.deadline_s
        headers = {"Authorization": f"Bearer {self.token}", **self.headers}
        with httpx.Client(timeout=httpx.Timeout(10, read=5), trust_env=False) as c, \
                c.stream("GET", self.url + "/api/v1/stream/sse", params=self.params,
                         headers=headers) as r:
            self.status = r.status_code
            if r.status_code != 200:
                self.body = r.read().decode()
                self.connected.set()
                return
            kind = event_id = None
            for line in r.iter_lines():
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    self.ids.append(event_id)
                    self.events.append((kind, json.loads(line[6:])))
                    event_id = None
                    if kind == "heartbeat":
                        self.connected.set()
                if self._halt.is_set() or time.monotonic() > end:
                    return

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)

    def of(self, kind: str) -> list[dict]:
        return [d for k, d in self.events if k == kind]

    def wait_for(self, kind: str, count: int = 1, timeout: float = 15.0) -> list[dict]:
        end = time.monotonic() + timeout
        while time.monotonic() < end and len(self.of(kind)) < count:
            time.sleep(0.05)
        return self.of(kind)
