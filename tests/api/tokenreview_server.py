"""A local HTTP server speaking the Kubernetes TokenReview API (protocol level only)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = "/apis/authentication.k8s.io/v1/tokenreviews"


@contextmanager
def tokenreview_server(users: dict[str, dict], sa_token: str) -> Iterator[tuple[str, list]]:
    """Serve TokenReview: ``users`` maps a bearer token to its UserInfo; the caller must
    present ``sa_token``. Yields (base URL, list of reviewed tokens)."""
    reviewed: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            if self.path != PATH:
                self.send_error(404)
                return
            if self.headers.get("Authorization") != f"Bearer {sa_token}":
                self._json(401, {"kind": "Status", "status": "Failure", "code": 401})
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            token = body["spec"]["token"]
            reviewed.append(token)
            user = users.get(token)
            status = {"authenticated": True, "user": user} if user else {
                "authenticated": False, "error": "invalid bearer token"}
            self._json(201, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                             "spec": body["spec"], "status": status})

        def _json(self, code: int, obj: dict) -> None:
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", reviewed
    finally:
        server.shutdown()
        server.server_close()
