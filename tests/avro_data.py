"""Random valid records for any Avro schema (seeded), for round-trip tests."""

from __future__ import annotations

import random
import string
from typing import Any

import fastavro


class AvroDataGenerator:
    """Walks a schema and produces a record that fits it."""

    def __init__(self, seed: int = 0, max_items: int = 4) -> None:
        self.rng = random.Random(seed)
        self.max_items = max_items
        self.named: dict[str, Any] = {}

    def record_for(self, schema: dict[str, Any]) -> dict[str, Any]:
        return self.value(schema)

    def value(self, schema: Any) -> Any:  # noqa: PLR0911 - one branch per Avro type
        rng = self.rng
        if isinstance(schema, list):
            return self.value(rng.choice(schema))
        if isinstance(schema, str):
            if schema in self.named:
                return self.value(self.named[schema])
            schema = {"type": schema}
        t = schema["type"]
        if isinstance(t, (dict, list)):
            return self.value(t)
        if t in ("record", "enum", "fixed"):
            self.named[schema["name"]] = schema
            if "namespace" in schema:
                self.named[f"{schema['namespace']}.{schema['name']}"] = schema
        if t == "null":
            return None
        if t == "boolean":
            return rng.random() < 0.5
        if t == "int":
            return rng.randint(-(2**31), 2**31 - 1)
        if t == "long":
            if schema.get("logicalType", "").startswith("timestamp"):
                return rng.randint(0, 2**41)
            return rng.randint(-(2**63), 2**63 - 1)
        if t in ("float", "double"):
            return rng.uniform(-1e6, 1e6) if t == "double" else float(rng.randint(-1000, 1000))
        if t == "bytes":
            return bytes(rng.randrange(256) for _ in range(rng.randint(0, 16)))
        if t == "string":
            alphabet = string.ascii_letters + string.digits + " äöü-_/.:{}\"'\\\n"
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        if t == "enum":
            return rng.choice(schema["symbols"])
        if t == "array":
            return [self.value(schema["items"]) for _ in range(rng.randint(0, self.max_items))]
        if t == "map":
            return {f"k{i}": self.value(schema["values"])
                    for i in range(rng.randint(0, self.max_items))}
        if t == "fixed":
            return bytes(rng.randrange(256) for _ in range(schema["size"]))
        if t == "record":
            return {f["name"]: self.value(f["type"]) for f in schema["fields"]}
        raise ValueError(f"unsupported type {t}")


def sample_record(schema: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """One random valid record for ``schema``; validated with fastavro."""
    record = AvroDataGenerator(seed).record_for(schema)
    fastavro.validation.validate(record, fastavro.parse_schema(schema), raise_errors=True)
    return record
