"""A real local HTTP receiver scripted to fail (500), hang past the timeout, or accept."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request as the receiver saw it, and what it answered."""

    mode: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ScriptedReceiver:
    """Answers each request by the next step of ``script`` (the last step repeats).

    Steps: ``"500"`` (fail), ``"hang"`` (no answer for ``hang_s``), ``"ok"`` (200).
    ``mode`` overrides the script while set.
    """

    script: list[str] = field(default_factory=lambda: ["ok"])
    hang_s: float = 3.0
    mode: str | None = None
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_step(self) -> str:
        with self._lock:
            if self.mode is not None:
                return self.mode
            index = min(len(self.requests), len(self.script) - 1)
            return self.script[index]

    def accepted(self) -> list[Received]:
        return [r for r in self.requests if r.mode == "ok"]


def _handler(state: ScriptedReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            step = state.next_step()
            with state._lock:
                state.requests.append(Received(step, dict(self.headers.items()), body,
                                               time.time()))
            if step == "hang":
                time.sleep(state.hang_s)
                self.close_connection = True
                return
            code = 200 if step == "ok" else int(step)
            payload = b'{"ok":true}' if code == 200 else b'{"error":"scripted failure"}'
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            return

    return Handler


@contextmanager
def scripted_receiver(script: list[str] | None = None, hang_s: float = 3.0
                      ) -> Iterator[ScriptedReceiver]:
    """Run a :class:`ScriptedReceiver` on a free loopback port (threads)."""
    state = ScriptedReceiver(script=script or ["ok"], hang_s=hang_s)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
