"""Loki push API receiver: ``POST /loki/api/v1/push``.

Two encodings, as Loki itself accepts them:

* ``application/json`` (optionally gzip): ``{"streams": [{"stream": {labels},
  "values": [["<unix ns>", "<line>", {structured metadata}?], ...]}]}``;
* ``application/x-protobuf`` (or no Content-Type): a snappy-compressed (block format)
  ``logproto.PushRequest`` whose streams carry their labels as a LogQL selector string
  ``{app="x", namespace="y"}``.

Lines become ``LogBatch`` records keyed ``cluster/namespace/app``; the cluster is the
``cluster`` (or ``k8s_cluster_name``) label, else the receiver's default.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2
from google.protobuf.message import DecodeError, Message

from connectors.receivers.base import Delivery, Outgoing, PayloadError
from connectors.receivers.body import decompress, snappy_block
from connectors.receivers.otlp_records import level_word, log_key, log_outgoing
from schemas.errors import CodecError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
CLUSTER_LABELS = ("cluster", "k8s_cluster_name")
NAMESPACE_LABELS = ("namespace", "k8s_namespace_name", "service_namespace")
APP_LABELS = ("app", "app_kubernetes_io_name", "k8s_deployment_name", "service_name", "job",
              "container")
LEVEL_KEYS = ("level", "detected_level", "severity", "lvl")
TRACE_KEYS = ("trace_id", "traceID", "traceid", "traceId")
SPAN_KEYS = ("span_id", "spanID", "spanid", "spanId")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


@dataclass(frozen=True)
class LogLine:
    """One Loki entry with its stream's labels."""

    labels: dict[str, str]
    ts_ns: int
    line: str
    metadata: dict[str, str]


# -- protobuf ------------------------------------------------------------------
@lru_cache(maxsize=1)
def push_request_class() -> type[Message]:
    """``logproto.PushRequest`` built from its field numbers (Loki's push.proto).

    Strings are declared ``bytes`` (same wire format) so a line with invalid UTF-8
    is kept (decoded with replacement characters) rather than failing the request.
    """
    pool = descriptor_pool.DescriptorPool()
    ts_file = descriptor_pb2.FileDescriptorProto()
    timestamp_pb2.DESCRIPTOR.CopyToProto(ts_file)
    pool.Add(ts_file)
    f = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="logproto/push.proto", package="logproto", syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"])

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        msg = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            field = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = type_name

    opt, rep = f.LABEL_OPTIONAL, f.LABEL_REPEATED
    message("PushRequest", ("streams", 1, f.TYPE_MESSAGE, rep, ".logproto.StreamAdapter"))
    message("StreamAdapter", ("labels", 1, f.TYPE_BYTES, opt, ""),
            ("entries", 2, f.TYPE_MESSAGE, rep, ".logproto.EntryAdapter"),
            ("hash", 3, f.TYPE_UINT64, opt, ""))
    message("EntryAdapter",
            ("timestamp", 1, f.TYPE_MESSAGE, opt, ".google.protobuf.Timestamp"),
            ("line", 2, f.TYPE_BYTES, opt, ""),
            ("structuredMetadata", 3, f.TYPE_MESSAGE, rep, ".logproto.LabelPairAdapter"))
    message("LabelPairAdapter", ("name", 1, f.TYPE_BYTES, opt, ""),
            ("value", 2, f.TYPE_BYTES, opt, ""))
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("logproto.PushRequest"))


def parse_selector(text: str) -> dict[str, str]:
    """``{a="1", b="x\\"y"}`` -> ``{"a": "1", "b": 'x"y'}``."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise PayloadError(f"stream labels {text!r} are not a {{...}} selector")
    body = body[1:-1].strip()
    labels: dict[str, str] = {}
    pos = 0
    while pos < len(body):
        m = _LABEL.match(body, pos)
        if m is None:
            raise PayloadError(f"stream labels {text!r}: cannot parse at {body[pos:pos + 20]!r}")
        labels[m.group(1)] = json.loads(f'"{m.group(2)}"')
        pos = m.end()
    return labels


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def parse_protobuf(body: bytes, max_bytes: int) -> list[LogLine]:
    """Lines of a snappy-compressed ``PushRequest``."""
    req = push_request_class()()
    try:
        req.ParseFromString(snappy_block(body, max_bytes))
    except DecodeError as exc:
        raise PayloadError(f"invalid Loki protobuf PushRequest: {exc}") from exc
    out: list[LogLine] = []
    for stream in req.streams:
        labels = parse_selector(_text(stream.labels))
        for e in stream.entries:
            ts = e.timestamp.seconds * 1_000_000_000 + e.timestamp.nanos
            md = {_text(p.name): _text(p.value) for p in e.structuredMetadata}
            out.append(LogLine(labels, ts, _text(e.line), md))
    return out


# -- JSON ----------------------------------------------------------------------
def _str_map(obj: Any, what: str) -> dict[str, str]:
    if obj is None:
        return {}
    if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
        raise PayloadError(f"{what} must be an object of strings")
    return obj


def parse_json(body: bytes) -> list[LogLine]:
    """Lines of a JSON push body."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("streams"), list):
        raise PayloadError('body must be {"streams": [...]}')
    out: list[LogLine] = []
    for i, stream in enumerate(doc["streams"]):
        if not isinstance(stream, dict) or not isinstance(stream.get("values"), list):
            raise PayloadError(f'streams[{i}] must have "stream" and a "values" list')
        labels = _str_map(stream.get("stream"), f"streams[{i}].stream")
        for j, value in enumerate(stream["values"]):
            where = f"streams[{i}].values[{j}]"
            if not isinstance(value, list) or len(value) not in (2, 3):
                raise PayloadError(f"{where} must be [ts, line] or [ts, line, metadata]")
            ts, line = value[0], value[1]
            if not isinstance(ts, str) or not ts.isdigit():
                raise PayloadError(f"{where}: timestamp must be a string of Unix nanoseconds")
            if not isinstance(line, str):
                raise PayloadError(f"{where}: line must be a string")
            md = _str_map(value[2] if len(value) == 3 else None, f"{where} metadata")
            out.append(LogLine(labels, int(ts), line, md))
    return out


# -- records -------------------------------------------------------------------
def _first(mapping: dict[str, str], keys: Iterable[str]) -> str:
    for key in keys:
        if mapping.get(key):
            return mapping[key]
    return ""


def line_records(lines: Iterable[LogLine], *, default_cluster: str, source: str, now_ms: int,
                 max_batch: int = 5000) -> list[Outgoing]:
    """LogBatch records keyed ``cluster/namespace/app``."""
    groups: dict[tuple[str, str], dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    normalised: dict[tuple[tuple[str, str], ...], tuple[str, dict[str, str]]] = {}
    for ln in lines:
        ident = tuple(sorted(ln.labels.items()))
        cached = normalised.get(ident)
        if cached is None:
            labels = dict(ln.labels)
            cluster = _first(labels, CLUSTER_LABELS) or default_cluster
            for ours, keys in (("namespace", NAMESPACE_LABELS), ("app", APP_LABELS)):
                found = _first(labels, keys)
                if found:
                    labels[ours] = found
            cached = normalised[ident] = (cluster, labels)
        cluster, labels = cached
        cols = groups[(cluster, log_key(cluster, labels))]
        cols["timestamps_ns"].append(ln.ts_ns)
        cols["labels"].append(labels)
        cols["levels"].append(level_word(_first(ln.metadata, LEVEL_KEYS)
                                         or _first(labels, LEVEL_KEYS)))
        cols["bodies"].append(ln.line)
        cols["trace_ids"].append(_first(ln.metadata, TRACE_KEYS).lower())
        cols["span_ids"].append(_first(ln.metadata, SPAN_KEYS).lower())
        cols["metadata"].append(ln.metadata)
    return log_outgoing(groups, source=source, now_ms=now_ms, max_batch=max_batch)


class LokiPushReceiver:
    """Loki push requests -> ``aiops.logs``."""

    source = "loki-push"

    def __init__(self, delivery: Delivery, *, default_cluster: str,
                 max_decoded_bytes: int) -> None:
        self.delivery = delivery
        self.default_cluster = default_cluster
        self.max_decoded_bytes = max_decoded_bytes

    def push(self, body: bytes, content_type: str, content_encoding: str | None = None) -> int:
        """Decode a push body as sent (JSON maybe gzip; protobuf snappy) and deliver it."""
        metrics = self.delivery.metrics
        encoding = (content_encoding or "").strip().lower()
        try:
            if content_type == JSON:
                lines = parse_json(decompress(body, encoding, self.max_decoded_bytes))
            elif content_type in (PROTOBUF, ""):
                if encoding not in ("", "identity", "snappy"):
                    body = decompress(body, encoding, self.max_decoded_bytes)
                lines = parse_protobuf(body, self.max_decoded_bytes)
            else:
                raise PayloadError(f"unsupported Content-Type {content_type!r} ({JSON} or "
                                   f"{PROTOBUF})", 415, "bad_content_type")
            metrics.received.labels(self.source, "logs").inc(len(lines))
            records = line_records(lines, default_cluster=self.default_cluster,
                                   source=self.source, now_ms=int(time.time() * 1000))
        except CodecError as exc:
            metrics.errors.labels(self.source, "invalid_values").inc()
            raise PayloadError(f"values out of range for our schema: {exc}") from exc
        except PayloadError as exc:
            metrics.errors.labels(self.source, exc.kind).inc()
            raise
        return self.delivery.deliver(self.source, "logs", records)
