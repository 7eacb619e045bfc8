"""Codec round trips, framing and typed errors (no broker needed)."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import SCHEMA_NAMES, Codec, fingerprint, load_schema, raw_schema
from schemas.errors import (
    CodecError,
    CorruptPayloadError,
    SchemaValidationError,
    UnknownSchemaError,
)
from tests.avro_data import sample_record


@pytest.mark.parametrize("name", SCHEMA_NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_schema_round_trips(name: str, seed: int) -> None:
    codec = Codec(name)
    record = sample_record(raw_schema(name), seed)
    payload = codec.encode(record)
    assert payload[:2] == b"\xc3\x01"
    assert struct.unpack_from("<Q", payload, 2)[0] == codec.fingerprint
    assert codec.decode(payload) == record


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_field_has_a_doc(name: str) -> None:
    def walk(schema: object, path: str) -> None:
        if isinstance(schema, list):
            for branch in schema:
                walk(branch, path)
        elif isinstance(schema, dict):
            if schema.get("type") in ("record", "enum"):
                assert schema.get("doc"), f"{path}: {schema['name']} lacks a doc"
            for field in schema.get("fields", []):
                assert field.get("doc"), f"{path}.{field['name']} lacks a doc"
                walk(field["type"], f"{path}.{field['name']}")
            for key in ("items", "values"):
                if key in schema:
                    walk(schema[key], path)

    walk(raw_schema(name), name)


def test_fingerprint_matches_the_avro_spec_example() -> None:
    # Avro spec: the CRC-64-AVRO fingerprint of "int" is 0x7275d51a3f395c8f.
    assert fingerprint("int") == 0x7275D51A3F395C8F


def test_truncated_payload_is_a_typed_error() -> None:
    codec = Codec("alert")
    payload = codec.encode(sample_record(raw_schema("alert")))
    with pytest.raises(CorruptPayloadError):
        codec.decode(payload[: len(payload) // 2])


def test_trailing_garbage_is_a_typed_error() -> None:
    codec = Codec("anomaly")
    payload = codec.encode(sample_record(raw_schema("anomaly")))
    with pytest.raises(CorruptPayloadError, match="trailing"):
        codec.decode(payload + b"\x00\x01")


def test_unknown_fingerprint_is_a_typed_error() -> None:
    codec = Codec("alert")
    payload = bytearray(codec.encode(sample_record(raw_schema("alert"))))
    payload[2:10] = struct.pack("<Q", 0x1234)
    with pytest.raises(UnknownSchemaError, match="0000000000001234"):
        codec.decode(bytes(payload))


def test_other_record_type_is_refused() -> None:
    payload = Codec("alert").encode(sample_record(raw_schema("alert")))
    with pytest.raises(UnknownSchemaError, match="expected anomaly"):
        Codec("anomaly").decode(payload)


def test_bad_magic_is_a_typed_error() -> None:
    with pytest.raises(CorruptPayloadError, match="framing"):
        Codec("alert").decode(b'{"json": "not avro"}')


def test_confluent_frame_without_registry_is_refused() -> None:
    with pytest.raises(UnknownSchemaError, match="registry"):
        Codec("alert").decode(b"\x00\x00\x00\x00\x01rest")


def test_invalid_record_is_refused_on_encode() -> None:
    with pytest.raises(SchemaValidationError):
        Codec("alert").encode({"fingerprint": 1})


def test_unknown_schema_name() -> None:
    with pytest.raises(UnknownSchemaError):
        load_schema("no_such_record")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_codec_error(data: bytes) -> None:
    codec = Codec("metric_batch")
    with contextlib.suppress(CodecError):
        codec.decode(data)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_corrupted_body_never_escapes_as_foreign_error(data: st.DataObject) -> None:
    codec = Codec("metric_batch")
    payload = bytearray(codec.encode(sample_record(raw_schema("metric_batch"), 3)))
    pos = data.draw(st.integers(10, len(payload) - 1))
    payload[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(10, len(payload)))
    with contextlib.suppress(CodecError):
        codec.decode(bytes(payload[:cut]))
