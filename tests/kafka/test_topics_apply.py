"""``aiops topics apply`` reconciles the broker with the catalogue, idempotently."""

from __future__ import annotations

import dataclasses

import pytest

from schemas.topics import TOPICS
from streams.kafka import admin
from tests.conftest import RunningStack

pytestmark = pytest.mark.stack


def test_apply_is_idempotent(stack: RunningStack) -> None:
    admin.apply(stack.bootstrap)
    assert admin.apply(stack.bootstrap) == []
    assert admin.plan(stack.bootstrap) == []
    live = {d.name: d for d in admin.describe(stack.bootstrap)}
    for topic in TOPICS:
        assert live[topic.name].partitions == topic.partitions
        assert live[topic.name].replication == 1  # capped at the one local broker
        assert live[topic.name].config["cleanup.policy"] == topic.cleanup_policy
        assert live[topic.name].config["retention.ms"] == str(topic.retention_ms)


def test_apply_grows_partitions_and_fixes_drifted_config(stack: RunningStack, unique: str) -> None:
    base = dataclasses.replace(TOPICS[0], name=f"test.drift.{unique}", partitions=2)
    assert [c.action for c in admin.apply(stack.bootstrap, (base,))] == ["create"]
    grown = dataclasses.replace(base, partitions=4, retention_ms=1234567)
    actions = sorted(c.action for c in admin.apply(stack.bootstrap, (grown,)))
    assert actions == ["config", "partitions"]
    assert admin.apply(stack.bootstrap, (grown,)) == []
    (desc,) = admin.describe(stack.bootstrap, (grown,))
    assert desc.partitions == 4 and desc.config["retention.ms"] == "1234567"
