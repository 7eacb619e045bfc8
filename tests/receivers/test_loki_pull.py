"""Loki pull mode against a local server speaking Loki's query_range protocol.

Grafana Loki is not installable here (Debian's ``loki`` package is an unrelated
genetics tool), so the peer is a protocol-level Loki: ``direction=forward``, ``limit``
over all streams, ``start`` inclusive, ``end`` exclusive, lines ordered by timestamp,
many lines sharing one nanosecond across streams.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from connectors.receivers.base import Delivery, ReceiverMetrics
from connectors.receivers.loki_pull import LokiPuller
from tests.receivers.conftest import collect

pytestmark = pytest.mark.stack


class FakeLokiStore:
    """Lines (labels, ts_ns, line) and Loki's forward query_range semantics."""

    def __init__(self) -> None:
        self.lines: list[tuple[dict[str, str], int, str]] = []
        self.queries: list[dict[str, str]] = []

    def query_range(self, q: dict[str, str]) -> dict:
        self.queries.append(q)
        assert q["direction"] == "forward"
        matchers = dict(re.findall(r'(\w+)="([^"]*)"', q["query"]))
        start, end, limit = int(q["start"]), int(q["end"]), int(q["limit"])
        hits = [(ts, i, labels, line) for i, (labels, ts, line) in enumerate(self.lines)
                if start <= ts < end and all(labels.get(k) == v for k, v in matchers.items())]
        hits.sort(key=lambda h: (h[0], h[1]))
        streams: dict[str, dict] = {}
        for ts, _, labels, line in hits[:limit]:
            ident = json.dumps(labels, sort_keys=True)
            streams.setdefault(ident, {"stream": labels, "values": []})["values"].append(
                [str(ts), line])
        return {"status": "success", "data": {"resultType": "streams",
                                              "result": list(streams.values())}}


def _serve(store: FakeLokiStore):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            parsed = urlparse(self.path)
            if parsed.path != "/loki/api/v1/query_range":
                self.send_error(404)
                return
            params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            body = json.dumps(store.query_range(params)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_pull_never_rereads_or_skips(publisher, topics_ready, unique, tmp_path):
    store = FakeLokiStore()
    server = _serve(store)
    cluster = f"pull-{unique}"
    a = {"job": "app", "cluster": cluster, "pod": "a"}
    b = {"job": "app", "cluster": cluster, "pod": "b"}
    other = {"job": "other", "cluster": cluster}
    expected: list[str] = []

    def add(labels: dict[str, str], ts: int, line: str) -> None:
        store.lines.append((labels, ts, line))
        if labels["job"] == "app":
            expected.append(line)

    for i in range(4):  # 8 lines at ts=1000 over two streams
        add(a, 1000, f"a-1000-{i}")
        add(b, 1000, f"b-1000-{i}")
    for i in range(7):  # 7 lines in one nanosecond: more than the page limit
        add(a, 2000, f"a-2000-{i}")
    add(other, 2500, "not selected")
    add(b, 2999, "b-2999")
    add(b, 3000, "b-3000 (at end: excluded from the first pull)")
    url = f"http://127.0.0.1:{server.server_address[1]}"
    cursor = tmp_path / "cursor.json"
    delivery = Delivery(publisher, ReceiverMetrics(), timeout_s=15)
    try:
        puller = LokiPuller(url, '{job="app"}', delivery, default_cluster="x", limit=3,
                            cursor_path=cursor, start_ns=0)
        assert puller.pull(end_ns=3000) == 16
        assert json.loads(cursor.read_text())["ts_ns"] == 3000
        assert any(q["limit"] == "6" for q in store.queries)  # same-ns overflow widened
        for i in range(5):
            add(a, 3000 + i, f"a-{3000 + i}")
        add(b, 3004, "b-3004")
        again = LokiPuller(url, '{job="app"}', delivery, default_cluster="x", limit=3,
                           cursor_path=cursor)  # a restart resumes from the saved cursor
        assert again.pull(end_ns=10_000) == 7
        assert again.pull(end_ns=10_000) == 0
        puller.client.close()
        again.client.close()
    finally:
        server.shutdown()
    found = collect(topics_ready, "aiops.logs", "log_batch",
                    lambda r: r["cluster"] == cluster, len(expected) + 1, timeout=8)
    got = [body for _, rec in found for body in rec["bodies"]]
    assert sorted(got) == sorted(expected)  # every line exactly once
    assert all(rec["source"] == "loki-pull" for _, rec in found)
    assert {key for key, _ in found} == {f"{cluster}//app".encode()}
