"""Loki push receiver: a real Loki client library (python-logging-loki), the shared
push samples, and protobuf+snappy bodies encoded independently of our descriptor."""

from __future__ import annotations

import json
import logging

import cramjam
import httpx
import logging_loki
import pytest

from connectors.receivers.loki import parse_selector, push_request_class
from tests.conftest import shared_dir
from tests.receivers.conftest import collect, sample

pytestmark = pytest.mark.stack


def test_python_logging_loki_handler(receiver, topics_ready):
    url, metrics, cluster = receiver
    handler = logging_loki.LokiHandler(
        url=f"{url}/loki/api/v1/push", version="1",
        tags={"cluster": cluster, "namespace": "shop", "app": "cart"})
    logger = logging.getLogger(f"loki-test-{cluster}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("cart %s is empty", "c1")
        logger.error("redis unreachable")
    finally:
        logger.removeHandler(handler)
        handler.close()
    found = collect(topics_ready, "aiops.logs", "log_batch",
                    lambda r: r["cluster"] == cluster, 2)
    lines = {}
    for key, rec in found:
        assert key == f"{cluster}/shop/cart".encode() and rec["source"] == "loki-push"
        lines.update(zip(rec["bodies"], rec["levels"], strict=True))
    assert lines == {"cart c1 is empty": "WARN", "redis unreachable": "ERROR"}
    assert sample(metrics, "aiops_receiver_samples_published_total", source="loki-push",
                  signal="logs") == 2


@pytest.mark.parametrize("name", ["push_example.json", "push_example_structured_metadata.json"])
def test_shared_push_samples(receiver, topics_ready, name):
    path = shared_dir() / "samples" / "loki" / name
    if not path.exists():
        pytest.skip(f"{path} absent (shared/ not beside the repo)")
    url, _, cluster = receiver
    r = httpx.post(f"{url}/loki/api/v1/push", content=path.read_bytes(),
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 204, r.text
    (key, rec), = collect(topics_ready, "aiops.logs", "log_batch",
                          lambda r: r["cluster"] == cluster, 1)
    assert rec["bodies"] == ["fizzbuzz"] and rec["timestamps_ns"] == [1570818238000000000]
    assert rec["labels"] == [{"foo": "bar2"}]
    if "structured" in name:
        assert rec["metadata"] == [{"trace_id": "0242ac120002", "user_id": "superUser123"}]
        assert rec["trace_ids"] == ["0242ac120002"]


# -- protobuf wire format, written by hand from Loki's push.proto field numbers ---------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _entry(ts_ns: int, line: str, metadata: dict[str, str]) -> bytes:
    ts = _varint(1 << 3) + _varint(ts_ns // 10**9) + _varint(2 << 3) + _varint(ts_ns % 10**9)
    body = _len_field(1, ts) + _len_field(2, line.encode())
    for k, v in metadata.items():
        body += _len_field(3, _len_field(1, k.encode()) + _len_field(2, v.encode()))
    return body


def _push_request(streams: list[tuple[str, list[bytes]]]) -> bytes:
    out = b""
    for labels, entries in streams:
        stream = _len_field(1, labels.encode()) + b"".join(_len_field(2, e) for e in entries)
        out += _len_field(1, stream)
    return out


def test_protobuf_snappy_push(receiver, topics_ready):
    url, metrics, cluster = receiver
    raw = _push_request([
        (f'{{cluster="{cluster}", namespace="net", app="router", level="error"}}',
         [_entry(1_700_000_000_123_456_789, "link down eth0", {"traceID": "ABCDEF0123"}),
          _entry(1_700_000_001_000_000_000, 'quote " and \\ slash', {})]),
        (f'{{cluster="{cluster}", namespace="net", app="dns"}}',
         [_entry(1_700_000_002_000_000_000, "NXDOMAIN", {"level": "warning"})]),
    ])
    decoded = push_request_class().FromString(raw)  # our descriptor reads the same bytes
    assert decoded.streams[0].entries[0].timestamp.nanos == 123_456_789
    r = httpx.post(f"{url}/loki/api/v1/push", content=bytes(cramjam.snappy.compress_raw(raw)),
                   headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 204, r.text
    found = collect(topics_ready, "aiops.logs", "log_batch",
                    lambda r: r["cluster"] == cluster, 2)
    by_key = {key: rec for key, rec in found}
    router = by_key[f"{cluster}/net/router".encode()]
    assert router["bodies"] == ["link down eth0", 'quote " and \\ slash']
    assert router["timestamps_ns"] == [1_700_000_000_123_456_789, 1_700_000_001_000_000_000]
    assert router["levels"] == ["ERROR", "ERROR"] and router["trace_ids"][0] == "abcdef0123"
    dns = by_key[f"{cluster}/net/dns".encode()]
    assert dns["levels"] == ["WARN"] and dns["bodies"] == ["NXDOMAIN"]
    assert sample(metrics, "aiops_receiver_samples_published_total", source="loki-push",
                  signal="logs") == 3


def test_selector_parsing():
    assert parse_selector('{a="1", b="x\\"y", c=""}') == {"a": "1", "b": 'x"y', "c": ""}
    assert parse_selector("{}") == {}
    for bad in ('a="1"', '{a=1}', '{a="1" b="2"}'):
        with pytest.raises(Exception, match="labels"):
            parse_selector(bad)


def test_bad_selector_in_protobuf_is_400(receiver):
    url, metrics, _ = receiver
    raw = _push_request([("{app=router}", [_entry(1, "x", {})])])
    r = httpx.post(f"{url}/loki/api/v1/push", content=bytes(cramjam.snappy.compress_raw(raw)),
                   headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400 and "stream labels" in r.text
    assert json.dumps(sample(metrics, "aiops_receiver_errors_total", source="loki-push",
                             reason="malformed")) == "1.0"
