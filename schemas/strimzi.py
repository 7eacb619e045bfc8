"""Strimzi / AMQ Streams ``KafkaTopic`` manifests generated from the catalogue."""

from __future__ import annotations

import yaml

from schemas.topics import TOPICS, Topic

HEADER = "# Generated from schemas/topics.py by `aiops topics generate`; do not edit.\n"


def kafka_topic(topic: Topic, cluster: str = "aiops") -> dict:
    """One ``kafka.strimzi.io/v1beta2`` KafkaTopic resource."""
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {
            "name": topic.name.replace(".", "-"),
            "labels": {"strimzi.io/cluster": cluster, "app.kubernetes.io/part-of": "aiops-nextgen"},
            "annotations": {"aiops.io/key": topic.key, "aiops.io/value-schema": topic.value_schema},
        },
        "spec": {
            "topicName": topic.name,
            "partitions": topic.partitions,
            "replicas": topic.replication,
            "config": {**topic.config(), "min.insync.replicas": "2"},
        },
    }


def render(topics: tuple[Topic, ...] = TOPICS, cluster: str = "aiops") -> str:
    """All topics as one multi-document YAML."""
    docs = [yaml.safe_dump(kafka_topic(t, cluster), sort_keys=False) for t in topics]
    return HEADER + "---\n" + "---\n".join(docs)
