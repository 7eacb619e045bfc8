"""A client for Confluent/Apicurio-compatible schema registries (REST API v1).

Only what the codec needs: register a schema under a subject (idempotent; the
registry returns the existing id) and fetch a schema by id, both cached.
"""

from __future__ import annotations

import json
from typing import Any

import fastavro
import httpx

from schemas.codec import strip_logical_types
from schemas.errors import RegistryError, UnknownSchemaError

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistryClient:
    """Register and resolve Avro schemas; ``token`` adds a bearer header."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Accept": CONTENT_TYPE}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"SchemaRegistryClient(url={self.url!r})"

    def close(self) -> None:
        self._http.close()

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        """The registry id of ``schema`` under ``subject`` (registering it if new)."""
        text = json.dumps(schema, separators=(",", ":"))
        key = (subject, text)
        if key in self._ids:
            return self._ids[key]
        try:
            resp = self._http.post(
                f"/subjects/{subject}/versions",
                content=json.dumps({"schema": text, "schemaType": "AVRO"}),
                headers={"Content-Type": CONTENT_TYPE},
            )
        except httpx.HTTPError as exc:
            raise RegistryError(f"schema registry unreachable: {exc}") from exc
        if resp.status_code >= 400:
            raise RegistryError(f"registry refused {subject}: {resp.status_code} {resp.text}")
        schema_id = int(resp.json()["id"])
        self._ids[key] = schema_id
        self._schemas[schema_id] = fastavro.parse_schema(strip_logical_types(schema))
        return schema_id

    def schema_by_id(self, schema_id: int) -> dict[str, Any]:
        """The parsed writer schema with registry id ``schema_id``."""
        if schema_id in self._schemas:
            return self._schemas[schema_id]
        try:
            resp = self._http.get(f"/schemas/ids/{schema_id}")
        except httpx.HTTPError as exc:
            raise RegistryError(f"schema registry unreachable: {exc}") from exc
        if resp.status_code == 404:
            raise UnknownSchemaError(f"schema id {schema_id} not in the registry")
        if resp.status_code >= 400:
            raise RegistryError(f"registry error for id {schema_id}: {resp.status_code}")
        parsed = fastavro.parse_schema(strip_logical_types(json.loads(resp.json()["schema"])))
        self._schemas[schema_id] = parsed
        return parsed
