"""Every schema stays BACKWARD compatible with the versions kept in schemas/avro/history."""

from __future__ import annotations

import copy
import io

import fastavro
import pytest

from schemas.codec import (
    SCHEMA_NAMES,
    Codec,
    fingerprint,
    history_versions,
    load_schema,
    raw_schema,
)
from schemas.compatibility import backward_problems
from tests.avro_data import sample_record


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_history_exists(name: str) -> None:
    assert history_versions(name), f"{name} has no history version kept in the repo"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_current_reads_every_previous_version(name: str) -> None:
    current = raw_schema(name)
    for version in history_versions(name):
        old = raw_schema(name, version)
        assert backward_problems(current, old) == [], f"{name} v{version}"
        # and empirically: data written with the old schema decodes under the new one
        record = sample_record(old, seed=version)
        buf = io.BytesIO()
        buf.write(b"\xc3\x01")
        buf.write(fingerprint(load_schema(name, version)).to_bytes(8, "little"))
        fastavro.schemaless_writer(buf, fastavro.parse_schema(old), record)
        decoded = Codec(name).decode(buf.getvalue())
        assert set(decoded) >= set(record)


def test_checker_catches_a_new_field_without_default() -> None:
    old = raw_schema("alert")
    new = copy.deepcopy(old)
    new["fields"].append({"name": "tenant", "type": "string", "doc": "x"})
    assert backward_problems(new, old) == [
        "Alert.tenant: reader field has no default and is missing in the writer"
    ]


def test_checker_allows_a_new_field_with_default_and_promotion() -> None:
    old = raw_schema("dead_letter")
    new = copy.deepcopy(old)
    new["fields"].append({"name": "tenant", "type": "string", "default": "", "doc": "x"})
    for field in new["fields"]:
        if field["name"] == "partition":
            field["type"] = "long"
    assert backward_problems(new, old) == []


def test_checker_catches_a_removed_enum_symbol_and_a_narrowing() -> None:
    old = raw_schema("anomaly")
    new = copy.deepcopy(old)
    for field in new["fields"]:
        if field["name"] == "type":
            field["type"]["symbols"].remove("SPIKE")
        if field["name"] == "series_id":
            field["type"] = "int"
    problems = backward_problems(new, old)
    assert any("SPIKE" in p for p in problems)
    assert any("series_id" in p and "long" in p for p in problems)
