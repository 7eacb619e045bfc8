"""Avro schemas of every record that crosses Kafka, their codec and the topic catalogue.

Public surface::

    from schemas import load_schema, Codec, TOPICS
"""

from __future__ import annotations

from schemas.codec import Codec, SchemaStore, load_schema
from schemas.errors import (
    CodecError,
    CorruptPayloadError,
    RegistryError,
    SchemaValidationError,
    UnknownSchemaError,
)
from schemas.topics import TOPICS, Topic, topic_by_name

__all__ = [
    "TOPICS",
    "Codec",
    "CodecError",
    "CorruptPayloadError",
    "RegistryError",
    "SchemaStore",
    "SchemaValidationError",
    "Topic",
    "UnknownSchemaError",
    "load_schema",
    "topic_by_name",
]
