"""Strimzi topics and the AsyncAPI document never drift from the catalogue."""

from __future__ import annotations

import yaml

from schemas import asyncapi, strimzi
from schemas.topics import TOPICS
from streams.cli.topics import ASYNCAPI_PATH, STRIMZI_PATH


def test_strimzi_manifests_match_the_catalogue() -> None:
    assert STRIMZI_PATH.read_text() == strimzi.render(), (
        "deploy/strimzi/kafka-topics.yaml is stale: run `aiops topics generate`"
    )
    docs = [d for d in yaml.safe_load_all(STRIMZI_PATH.read_text()) if d]
    assert [d["spec"]["topicName"] for d in docs] == [t.name for t in TOPICS]
    for doc, topic in zip(docs, TOPICS, strict=True):
        assert doc["kind"] == "KafkaTopic"
        assert doc["spec"]["partitions"] == topic.partitions
        assert doc["spec"]["config"]["cleanup.policy"] == topic.cleanup_policy


def test_asyncapi_matches_the_catalogue() -> None:
    assert ASYNCAPI_PATH.read_text() == asyncapi.render(), (
        "deploy/asyncapi.yaml is stale: run `aiops topics generate`"
    )
    doc = yaml.safe_load(ASYNCAPI_PATH.read_text())
    assert doc["asyncapi"].startswith("3.")
    assert {c["address"] for c in doc["channels"].values()} == {t.name for t in TOPICS}
    for message in doc["components"]["messages"].values():
        ref = message["payload"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert doc["components"]["schemas"][ref]["type"] == "record"
