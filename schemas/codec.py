"""Avro codec for every record on Kafka.

Two framings:

* Avro single-object encoding (default): ``C3 01`` + 8-byte little-endian
  CRC-64-AVRO fingerprint of the writer schema's canonical form + body.
  Consumers decode without any registry: the fingerprint names the writer
  schema among the current and historical schemas shipped in ``schemas/avro``.
* Confluent wire format (when a schema registry URL is configured): ``00`` +
  4-byte big-endian schema id + body; ids are resolved through the registry.

Decoding always resolves the writer schema against the current (reader)
schema, so old records read under new schemas (BACKWARD compatibility).

>>> codec = Codec("dead_letter")
>>> rec = {"topic": "t", "partition": 0, "offset": 1, "key": None, "error": "e",
...        "error_type": "X", "stage": "DECODE", "component": "c", "raw": b"x", "ts": 0}
>>> codec.decode(codec.encode(rec))["error"]
'e'
"""

from __future__ import annotations

import io
import json
import struct
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import to_parsing_canonical_form

from schemas.errors import (
    CodecError,
    CorruptPayloadError,
    SchemaValidationError,
    UnknownSchemaError,
)
from schemas.fingerprint import crc64_avro

AVRO_DIR = Path(__file__).resolve().parent / "avro"
SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"
SCHEMA_NAMES = (
    "metric_batch", "gpu_batch", "span_batch", "log_batch", "alert", "cluster_record",
    "anomaly", "incident", "rca_report", "dead_letter", "fault_record",
    "detector_state",
)


def schema_path(name: str, version: int | None = None) -> Path:
    """Path of a current (``version=None``) or historical schema file."""
    if version is None:
        return AVRO_DIR / f"{name}.avsc"
    return AVRO_DIR / "history" / f"{name}.v{version}.avsc"


def strip_logical_types(node: Any) -> Any:
    """Drop ``logicalType`` so timestamps stay plain epoch integers on the hot path.

    The Parsing Canonical Form ignores logical types, so fingerprints are unchanged.
    """
    if isinstance(node, list):
        return [strip_logical_types(n) for n in node]
    if isinstance(node, dict):
        return {k: strip_logical_types(v) for k, v in node.items() if k != "logicalType"}
    return node


@cache
def load_schema(name: str, version: int | None = None) -> dict[str, Any]:
    """The parsed (fastavro) schema ``name`` (e.g. ``"metric_batch"``).

    Timestamps are read and written as integers (epoch ms / ns), not datetimes.
    """
    path = schema_path(name, version)
    if not path.exists():
        raise UnknownSchemaError(f"no schema {name!r} (version {version}) in {AVRO_DIR}")
    return fastavro.parse_schema(strip_logical_types(json.loads(path.read_text())))


def raw_schema(name: str, version: int | None = None) -> dict[str, Any]:
    """The schema as written in its .avsc file (with docs)."""
    return json.loads(schema_path(name, version).read_text())


def history_versions(name: str) -> list[int]:
    """Versions kept under schemas/avro/history for ``name``, oldest first."""
    found = []
    for path in (AVRO_DIR / "history").glob(f"{name}.v*.avsc"):
        found.append(int(path.name[len(name) + 2 : -5]))
    return sorted(found)


def fingerprint(schema: dict[str, Any]) -> int:
    """CRC-64-AVRO fingerprint of a parsed schema's Parsing Canonical Form."""
    return crc64_avro(to_parsing_canonical_form(schema).encode())


class SchemaStore:
    """Every schema this build can read, indexed by fingerprint."""

    def __init__(self) -> None:
        self._by_fp: dict[int, tuple[str, dict[str, Any]]] = {}
        for name in SCHEMA_NAMES:
            for version in [*history_versions(name), None]:
                schema = load_schema(name, version)
                self._by_fp[fingerprint(schema)] = (name, schema)

    def writer_for(self, fp: int) -> tuple[str, dict[str, Any]]:
        """(schema name, writer schema) for a fingerprint."""
        try:
            return self._by_fp[fp]
        except KeyError:
            raise UnknownSchemaError(f"unknown schema fingerprint {fp:016x}") from None


@lru_cache(maxsize=1)
def default_store() -> SchemaStore:
    """The process-wide schema store (built on first use)."""
    return SchemaStore()


class Codec:
    """Encode/decode one record type.

    ``registry`` (a ``schemas.registry.SchemaRegistryClient``) switches to the
    Confluent wire format with ``subject`` (default ``<name>-value``).
    """

    def __init__(self, name: str, registry: Any | None = None, subject: str | None = None):
        self.name = name
        self.registry = registry
        self.subject = subject or f"{name}-value"
        self.schema = load_schema(name)
        self.fingerprint = fingerprint(self.schema)
        self._header = SINGLE_OBJECT_MAGIC + struct.pack("<Q", self.fingerprint)
        self._registry_id: int | None = None

    # -- encode --------------------------------------------------------------
    def encode(self, record: dict[str, Any]) -> bytes:
        """Serialise one record with this codec's framing."""
        buf = io.BytesIO()
        buf.write(self._confluent_header() if self.registry is not None else self._header)
        try:
            fastavro.schemaless_writer(buf, self.schema, record)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise SchemaValidationError(f"{self.name}: {exc}") from exc
        return buf.getvalue()

    def _confluent_header(self) -> bytes:
        if self._registry_id is None:
            self._registry_id = self.registry.register(self.subject, raw_schema(self.name))
        return CONFLUENT_MAGIC + struct.pack(">I", self._registry_id)

    # -- decode --------------------------------------------------------------
    def decode(self, payload: bytes) -> dict[str, Any]:
        """Deserialise a payload written by any known version of this record type."""
        writer = self._writer_schema(payload)
        body = io.BytesIO(payload)
        body.seek(10 if payload[:2] == SINGLE_OBJECT_MAGIC else 5)
        try:
            record = fastavro.schemaless_reader(body, writer, self.schema)
        except CodecError:
            raise
        except Exception as exc:  # noqa: BLE001 - fastavro raises many types on bad bytes
            raise CorruptPayloadError(f"{self.name}: undecodable body: {exc!r}") from exc
        if body.tell() != len(payload):
            raise CorruptPayloadError(
                f"{self.name}: {len(payload) - body.tell()} trailing bytes after the record"
            )
        return record  # type: ignore[return-value]

    def _writer_schema(self, payload: bytes) -> dict[str, Any]:
        if len(payload) >= 10 and payload[:2] == SINGLE_OBJECT_MAGIC:
            (fp,) = struct.unpack_from("<Q", payload, 2)
            if fp == self.fingerprint:
                return self.schema
            name, schema = default_store().writer_for(fp)
            if name != self.name:
                raise UnknownSchemaError(f"payload is a {name}, expected {self.name}")
            return schema
        if len(payload) >= 5 and payload[:1] == CONFLUENT_MAGIC:
            if self.registry is None:
                raise UnknownSchemaError("Confluent wire format but no schema registry configured")
            (schema_id,) = struct.unpack_from(">I", payload, 1)
            return self.registry.schema_by_id(schema_id)
        raise CorruptPayloadError(f"{self.name}: not Avro single-object or Confluent framing")
