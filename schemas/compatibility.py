"""Avro schema-resolution checks (the rules of the Avro specification).

``backward_problems(reader, writer)`` lists why data written with ``writer``
(the previous version) could not be read with ``reader`` (the new one); an
empty list means the change is BACKWARD compatible, as a schema registry in
BACKWARD mode would require.

>>> old = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}
>>> new = {"type": "record", "name": "R", "fields": [
...     {"name": "a", "type": "long"}, {"name": "b", "type": "string", "default": ""}]}
>>> backward_problems(new, old)
[]
>>> backward_problems(old, {"type": "record", "name": "R", "fields": []})
['R.a: reader field has no default and is missing in the writer']
"""

from __future__ import annotations

from typing import Any

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


def _type_name(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    return str(schema["type"])


def _full_name(schema: dict[str, Any]) -> str:
    name = schema["name"]
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


class _Resolver:
    def __init__(self) -> None:
        self.named_reader: dict[str, Any] = {}
        self.named_writer: dict[str, Any] = {}
        self.seen: set[tuple[str, str]] = set()

    def _deref(self, schema: Any, table: dict[str, Any]) -> Any:
        if isinstance(schema, dict) and schema.get("type") in ("record", "enum", "fixed"):
            table.setdefault(_full_name(schema), schema)
            table.setdefault(schema["name"], schema)
        if isinstance(schema, str) and schema not in PRIMITIVES:
            return table.get(schema, schema)
        if isinstance(schema, dict) and schema.get("type") in PRIMITIVES and len(schema) <= 2:
            return schema["type"] if "logicalType" not in schema else schema
        return schema

    def check(self, reader: Any, writer: Any, path: str) -> list[str]:
        reader = self._deref(reader, self.named_reader)
        writer = self._deref(writer, self.named_writer)
        rt, wt = _type_name(reader), _type_name(writer)
        if rt in PRIMITIVES and isinstance(reader, dict):
            rt = reader["type"]
        if wt in PRIMITIVES and isinstance(writer, dict):
            wt = writer["type"]
        if wt == "union":
            problems: list[str] = []
            for branch in writer:
                problems += self.check(reader, branch, path)
            return problems
        if rt == "union":
            for branch in reader:
                if not self.check(branch, writer, path):
                    return []
            return [f"{path}: writer type {wt} matches no branch of the reader union"]
        if rt != wt:
            if rt in PROMOTIONS.get(wt, set()):
                return []
            return [f"{path}: writer {wt} cannot be read as {rt}"]
        if rt == "record":
            return self._record(reader, writer, path)
        if rt == "enum":
            missing = set(writer["symbols"]) - set(reader["symbols"])
            if missing and "default" not in reader:
                return [f"{path}: enum symbols {sorted(missing)} missing in the reader"]
            return []
        if rt == "array":
            return self.check(reader["items"], writer["items"], f"{path}[]")
        if rt == "map":
            return self.check(reader["values"], writer["values"], f"{path}{{}}")
        if rt == "fixed" and reader["size"] != writer["size"]:
            return [f"{path}: fixed size {writer['size']} != {reader['size']}"]
        return []

    def _record(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> list[str]:
        key = (_full_name(reader), _full_name(writer))
        if key in self.seen:
            return []
        self.seen.add(key)
        prefix = f"{path}.{reader['name']}" if path else reader["name"]
        by_name = {f["name"]: f for f in writer["fields"]}
        for f in writer["fields"]:
            for alias in f.get("aliases", []):
                by_name.setdefault(alias, f)
        problems: list[str] = []
        for field in reader["fields"]:
            names = [field["name"], *field.get("aliases", [])]
            wfield = next((by_name[n] for n in names if n in by_name), None)
            if wfield is None:
                if "default" not in field:
                    problems.append(
                        f"{prefix}.{field['name']}: reader field has no default and is "
                        "missing in the writer"
                    )
                continue
            problems += self.check(field["type"], wfield["type"], f"{prefix}.{field['name']}")
        return problems


def backward_problems(reader: Any, writer: Any) -> list[str]:
    """Why ``reader`` cannot read ``writer``'s data; empty when compatible."""
    return _Resolver().check(reader, writer, "")
