"""Codecs configured from settings: single-object Avro, or Confluent wire format with a registry."""

from __future__ import annotations

from functools import lru_cache

from schemas.codec import Codec
from schemas.registry import SchemaRegistryClient
from streams.settings import Settings, get_settings


@lru_cache(maxsize=8)
def _registry(url: str, token: str | None) -> SchemaRegistryClient:
    return SchemaRegistryClient(url, token=token)


def codec_for(name: str, settings: Settings | None = None, topic: str | None = None) -> Codec:
    """The codec for record type ``name``; subject ``<topic>-value`` when a registry is used."""
    settings = settings or get_settings()
    if not settings.schema_registry_url:
        return Codec(name)
    token = settings.schema_registry_token
    registry = _registry(settings.schema_registry_url, token.get_secret_value() if token else None)
    return Codec(name, registry=registry, subject=f"{topic or name}-value")
