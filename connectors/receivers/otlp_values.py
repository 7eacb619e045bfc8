"""OTLP ``AnyValue``/``KeyValue`` rendered as plain values and strings.

>>> from opentelemetry.proto.common.v1.common_pb2 import AnyValue
>>> any_value_text(AnyValue(bool_value=True)), any_value_text(AnyValue(int_value=3))
('true', '3')
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


def any_value_obj(v: AnyValue) -> Any:
    """An AnyValue as a plain Python value (bytes as base64 text)."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value_obj(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value_obj(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    return getattr(v, kind)


def any_value_text(v: AnyValue) -> str:
    """An AnyValue rendered as a string (JSON for arrays and maps)."""
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind in ("int_value", "double_value"):
        return str(getattr(v, kind))
    obj = any_value_obj(v)
    if obj is None:
        return ""
    return obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))


def attributes_text(kvs: Iterable[KeyValue]) -> dict[str, str]:
    """Attributes as a string map."""
    return {kv.key: any_value_text(kv.value) for kv in kvs}
