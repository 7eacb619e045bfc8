"""Confluent wire format when a schema registry URL is configured."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer

from schemas.codec import Codec, raw_schema
from schemas.errors import RegistryError, UnknownSchemaError
from schemas.registry import SchemaRegistryClient
from streams.kafka import admin
from streams.kafka.codecs import codec_for
from streams.settings import Settings
from tests.avro_data import sample_record
from tests.conftest import RunningStack
from tests.kafka.test_roundtrip import consume_keys
from tests.schemas.registry_server import RegistryServer


@pytest.fixture()
def registry() -> Iterator[RegistryServer]:
    with RegistryServer() as server:
        yield server


def test_settings_switch_to_confluent_framing(registry: RegistryServer) -> None:
    codec = codec_for("alert", Settings(schema_registry_url=registry.url), topic="aiops.alerts")
    record = sample_record(raw_schema("alert"), 5)
    payload = codec.encode(record)
    assert payload[0] == 0
    (schema_id,) = struct.unpack_from(">I", payload, 1)
    assert registry.state.subjects["aiops.alerts-value"] == [schema_id]
    # a fresh consumer-side client resolves the id through GET /schemas/ids/{id}
    reader = Codec("alert", registry=SchemaRegistryClient(registry.url))
    assert reader.decode(payload) == record
    assert ("GET", f"/schemas/ids/{schema_id}") in registry.state.requests


def test_without_registry_single_object_framing() -> None:
    assert codec_for("alert", Settings(schema_registry_url=None)).encode(
        sample_record(raw_schema("alert"))
    )[:2] == b"\xc3\x01"


def test_unknown_registry_id_is_a_typed_error(registry: RegistryServer) -> None:
    reader = Codec("alert", registry=SchemaRegistryClient(registry.url))
    with pytest.raises(UnknownSchemaError, match="999"):
        reader.decode(b"\x00" + struct.pack(">I", 999) + b"\x02")


def test_unreachable_registry_is_a_typed_error() -> None:
    codec = Codec("alert", registry=SchemaRegistryClient("http://127.0.0.1:9", timeout=0.5))
    with pytest.raises(RegistryError):
        codec.encode(sample_record(raw_schema("alert")))


@pytest.mark.stack
def test_wire_format_round_trips_through_kafka(
    stack: RunningStack, registry: RegistryServer, unique: str
) -> None:
    admin.apply(stack.bootstrap)
    settings = Settings(schema_registry_url=registry.url)
    codec = codec_for("incident", settings, topic="aiops.incidents")
    records = [sample_record(raw_schema("incident"), s) for s in range(3)]
    producer = Producer({"bootstrap.servers": stack.bootstrap})
    for i, record in enumerate(records):
        producer.produce("aiops.incidents", key=f"sr-{unique}-{i}".encode(),
                         value=codec.encode(record))
    assert producer.flush(30) == 0
    got = consume_keys(stack.bootstrap, "aiops.incidents", f"sr-{unique}", f"sr-{unique}", 3)
    reader = Codec("incident", registry=SchemaRegistryClient(registry.url))
    assert [reader.decode(m.value()) for m in got] == records
