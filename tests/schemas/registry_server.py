"""A local HTTP server speaking the Confluent Schema Registry REST API (the subset we use).

Protocol-level stand-in for a registry (none can run here): POST
/subjects/{subject}/versions registers (same schema -> same id) and
GET /schemas/ids/{id} returns the schema string.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RegistryState:
    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.ids: dict[str, int] = {}
        self.subjects: dict[str, list[int]] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()


def make_handler(state: RegistryState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _reply(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            state.requests.append(("POST", self.path))
            parts = self.path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "subjects" or parts[2] != "versions":
                return self._reply(404, {"error_code": 404, "message": "not found"})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            schema = json.dumps(json.loads(body["schema"]), sort_keys=True)
            with state.lock:
                if schema not in state.ids:
                    state.ids[schema] = len(state.ids) + 1
                    state.by_id[state.ids[schema]] = body["schema"]
                state.subjects.setdefault(parts[1], []).append(state.ids[schema])
                return self._reply(200, {"id": state.ids[schema]})

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            state.requests.append(("GET", self.path))
            parts = self.path.strip("/").split("/")
            if len(parts) == 3 and parts[:2] == ["schemas", "ids"]:
                schema = state.by_id.get(int(parts[2]))
                if schema is None:
                    return self._reply(404, {"error_code": 40403, "message": "Schema not found"})
                return self._reply(200, {"schema": schema})
            return self._reply(404, {"error_code": 404, "message": "not found"})

    return Handler


class RegistryServer:
    """Context manager running the registry on a free loopback port."""

    def __init__(self) -> None:
        self.state = RegistryState()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.state))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> RegistryServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
