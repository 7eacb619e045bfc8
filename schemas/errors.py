"""Errors of the schema layer.

Exception tree::

    CodecError
     ├── UnknownSchemaError     fingerprint or registry id we cannot resolve
     ├── CorruptPayloadError    bad magic, truncated or undecodable body
     ├── SchemaValidationError  a record that does not fit its schema (encode side)
     └── RegistryError          the schema registry refused or is unreachable

Every decode failure raises a ``CodecError`` subclass (never a fastavro or
``struct`` error), so consumers can dead-letter the record with its reason.
"""

from __future__ import annotations


class CodecError(Exception):
    """Root of every encode/decode failure."""


class UnknownSchemaError(CodecError):
    """The payload names a schema (fingerprint or id) that is not known."""


class CorruptPayloadError(CodecError):
    """The payload is not valid Avro for the schema it names."""


class SchemaValidationError(CodecError):
    """The record to encode does not match its schema."""


class RegistryError(CodecError):
    """The schema registry failed or refused a request."""
