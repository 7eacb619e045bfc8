"""An AsyncAPI 3 document for downstream subscribers, generated from the catalogue."""

from __future__ import annotations

import yaml

from schemas.codec import raw_schema
from schemas.topics import TOPICS, Topic

HEADER = "# Generated from schemas/topics.py by `aiops topics generate`; do not edit.\n"


def _message_name(topic: Topic) -> str:
    return "".join(part.title() for part in topic.value_schema.split("_"))


def document(topics: tuple[Topic, ...] = TOPICS) -> dict:
    """The AsyncAPI 3.0 document as a dict."""
    channels, operations, messages, schemas = {}, {}, {}, {}
    for topic in topics:
        cid = topic.name.replace(".", "_")
        msg = _message_name(topic)
        channels[cid] = {
            "address": topic.name,
            "description": topic.description,
            "messages": {msg: {"$ref": f"#/components/messages/{msg}"}},
            "bindings": {"kafka": {
                "topic": topic.name, "partitions": topic.partitions,
                "replicas": topic.replication,
                "topicConfiguration": {
                    "cleanup.policy": [topic.cleanup_policy],
                    "retention.ms": topic.retention_ms,
                },
            }},
        }
        operations[f"receive_{cid}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{cid}"},
            "summary": f"Subscribe to {topic.name}.",
        }
        messages[msg] = {
            "name": msg,
            "title": msg,
            "summary": topic.description,
            "contentType": "application/vnd.apache.avro+binary",
            "description": (
                "Avro single-object encoding (C3 01 + 8-byte little-endian CRC-64-AVRO "
                "fingerprint + body) by default; Confluent wire format when a schema "
                "registry is configured."
            ),
            "payload": {
                "schemaFormat": "application/vnd.apache.avro;version=1.9.0",
                "schema": {"$ref": f"#/components/schemas/{msg}"},
            },
            "bindings": {"kafka": {"key": {"type": "string", "description":
                                           f"{topic.key}: {topic.key_reason}"}}},
        }
        schemas[msg] = raw_schema(topic.value_schema)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "AIOps NextGen topics",
            "version": "1.0.0",
            "description": "Every Kafka topic of AIOps NextGen, its key and Avro value schema.",
            "license": {"name": "MIT"},
        },
        "defaultContentType": "application/vnd.apache.avro+binary",
        "servers": {"local": {"host": "127.0.0.1:19092", "protocol": "kafka",
                              "description": "The local stack (`aiops stack up`)."}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render(topics: tuple[Topic, ...] = TOPICS) -> str:
    """The document as YAML."""
    return HEADER + yaml.safe_dump(document(topics), sort_keys=False, width=100)
