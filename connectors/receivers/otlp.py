"""OTLP/HTTP receiver: ``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics``.

Bodies are binary protobuf (``application/x-protobuf``) or OTLP/JSON
(``application/json``: ids in hex, 64-bit integers as strings or numbers, enums as
numbers), optionally gzip-compressed. Success answers the matching
``Export*ServiceResponse`` in the request's encoding; a malformed body answers 400 with
a ``google.rpc.Status`` whose message gives the reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from connectors.receivers.base import Delivery, Outgoing, PayloadError
from connectors.receivers.otlp_records import (
    log_count,
    log_records,
    metric_records,
    point_count,
    span_count,
    span_records,
)
from schemas.errors import CodecError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_FIELDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


@dataclass(frozen=True)
class Signal:
    """One OTLP signal: its request/response types and how to map it."""

    name: str
    request: type[Message]
    response: type[Message]
    count: Callable[[Any], int]
    records: Callable[..., list[Outgoing]]


SIGNALS: dict[str, Signal] = {
    "traces": Signal("traces", ExportTraceServiceRequest, ExportTraceServiceResponse,
                     span_count, span_records),
    "logs": Signal("logs", ExportLogsServiceRequest, ExportLogsServiceResponse,
                   log_count, log_records),
    "metrics": Signal("metrics", ExportMetricsServiceRequest, ExportMetricsServiceResponse,
                      point_count, metric_records),
}


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` -> ``application/json``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON carries trace/span ids as hex; protobuf JSON expects base64 bytes."""
    if isinstance(node, list):
        return [_hex_ids_to_base64(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _ID_FIELDS and isinstance(value, str):
            if value and len(value) != 2 * _ID_FIELDS[key]:
                raise PayloadError(f"{key} {value!r} must be {2 * _ID_FIELDS[key]} hex digits")
            try:
                value = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError as exc:
                raise PayloadError(f"{key} {value!r} is not hex") from exc
        out[key] = _hex_ids_to_base64(value)
    return out


def parse_request(signal: Signal, body: bytes, content_type: str) -> Message:
    """Decode an export request; :class:`PayloadError` (400/415) with the reason."""
    msg = signal.request()
    if content_type == PROTOBUF:
        try:
            msg.ParseFromString(body)
        except (DecodeError, RuntimeWarning) as exc:
            raise PayloadError(f"invalid OTLP protobuf {signal.request.__name__}: {exc}") from exc
        return msg
    if content_type == JSON:
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PayloadError(f"invalid JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise PayloadError("OTLP/JSON body must be an object")
        try:
            json_format.ParseDict(_hex_ids_to_base64(obj), msg, ignore_unknown_fields=True)
        except (json_format.ParseError, binascii.Error, ValueError, TypeError) as exc:
            raise PayloadError(f"invalid OTLP/JSON {signal.request.__name__}: {exc}") from exc
        return msg
    raise PayloadError(f"unsupported Content-Type {content_type!r} ({PROTOBUF} or {JSON})",
                       415, "bad_content_type")


def encode_message(msg: Message, content_type: str) -> bytes:
    """A response message in the request's encoding."""
    if content_type == JSON:
        return json_format.MessageToJson(msg, indent=None).encode()
    return msg.SerializeToString()


def status_body(code: int, message: str, content_type: str) -> bytes:
    """A ``google.rpc.Status`` (code, message) in the request's encoding."""
    if content_type == JSON:
        return json.dumps({"code": code, "message": message}).encode()
    text = message.encode()
    return (b"\x08" + _uvarint(code) + b"\x12" + _uvarint(len(text)) + text)


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class OtlpReceiver:
    """Maps OTLP export requests to our topics and delivers them."""

    source = "otlp-http"

    def __init__(self, delivery: Delivery, *, default_cluster: str) -> None:
        self.delivery = delivery
        self.default_cluster = default_cluster

    def export(self, signal_name: str, body: bytes, content_type: str) -> bytes:
        """Handle one decoded body; returns the response body (request's encoding)."""
        signal = SIGNALS[signal_name]
        metrics = self.delivery.metrics
        try:
            req = parse_request(signal, body, content_type)
        except PayloadError as exc:
            metrics.errors.labels(self.source, exc.kind).inc()
            raise
        metrics.received.labels(self.source, signal.name).inc(signal.count(req))
        batch_source = "otlp" if signal.name == "metrics" else self.source
        try:
            records = signal.records(req, default_cluster=self.default_cluster,
                                     source=batch_source, now_ms=int(time.time() * 1000))
        except CodecError as exc:
            metrics.errors.labels(self.source, "invalid_values").inc()
            raise PayloadError(f"values out of range for our schema: {exc}") from exc
        self.delivery.deliver(self.source, signal.name, records)
        return encode_message(signal.response(), content_type)
