"""The operations endpoint every component serves: /metrics, /health and /ready.

A drop-in for ``prometheus_client.start_http_server`` that also answers the
Kubernetes probes: ``/health`` is 200 while the process runs; ``/ready`` is 200
only when every readiness check registered with :func:`set_ready` passes (503
with the failing checks otherwise).

>>> set_ready("kafka", False, "no partitions assigned")
>>> readiness()[1]["kafka"]
'no partitions assigned'
>>> set_ready("kafka", True)
>>> "kafka" in readiness()[1]
False
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

_checks: dict[str, tuple[bool, str]] = {}
_lock = threading.Lock()


def set_ready(check: str, ok: bool, detail: str = "") -> None:
    """Record one readiness check (e.g. "kafka", "clickhouse")."""
    with _lock:
        _checks[check] = (ok, detail)


def clear_ready(check: str) -> None:
    """Forget one readiness check (its owner is gone)."""
    with _lock:
        _checks.pop(check, None)


def readiness() -> tuple[bool, dict[str, str]]:
    """(all checks pass, failing check -> detail)."""
    with _lock:
        failing = {name: detail for name, (ok, detail) in _checks.items() if not ok}
    return not failing, failing


def _handler(registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # probes every few seconds: stay quiet
            pass

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/health":
                self._send(200, b'{"status":"ok"}', "application/json")
            elif path == "/ready":
                ok, failing = readiness()
                body = json.dumps({"ready": ok, "failing": failing}).encode()
                self._send(200 if ok else 503, body, "application/json")
            else:
                self._send(404, b'{"error":"not found"}', "application/json")

    return Handler


def start_http_server(
    port: int, addr: str = "0.0.0.0", registry: CollectorRegistry = REGISTRY
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve /metrics, /health and /ready in a daemon thread; port 0 picks a free one."""
    server = ThreadingHTTPServer((addr, port), _handler(registry))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="ops-server")
    thread.start()
    return server, thread
