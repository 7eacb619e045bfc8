"""Create and reconcile the catalogue's topics on a broker, idempotently."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from schemas.topics import TOPICS, Topic


class TopicAdminError(Exception):
    """The broker refused a topic change."""


@dataclass(frozen=True)
class TopicChange:
    """One action taken (or that would be taken) on a topic."""

    topic: str
    action: str  # create | partitions | config
    detail: str


@dataclass(frozen=True)
class TopicDescription:
    """A topic as the broker reports it."""

    name: str
    partitions: int
    replication: int
    config: dict[str, str]


def admin_client(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})


def _broker_count(admin: AdminClient) -> int:
    return max(len(admin.list_topics(timeout=10).brokers), 1)


def describe(bootstrap: str, topics: tuple[Topic, ...] = TOPICS) -> list[TopicDescription]:
    """Partitions, replication and the catalogue-managed config of each existing topic."""
    admin = admin_client(bootstrap)
    meta = admin.list_topics(timeout=10)
    found = [t for t in topics if t.name in meta.topics]
    configs: dict[str, dict[str, str]] = {}
    if found:
        futures = admin.describe_configs([ConfigResource("topic", t.name) for t in found])
        for resource, fut in futures.items():
            entries = fut.result(timeout=10)
            configs[resource.name] = {k: v.value for k, v in entries.items()}
    out = []
    for topic in found:
        tmeta = meta.topics[topic.name]
        parts = tmeta.partitions
        replication = len(next(iter(parts.values())).replicas) if parts else 0
        wanted = topic.config()
        cfg = {k: v for k, v in configs.get(topic.name, {}).items() if k in wanted}
        out.append(TopicDescription(topic.name, len(parts), replication, cfg))
    return out


def plan(bootstrap: str, topics: tuple[Topic, ...] = TOPICS) -> list[TopicChange]:
    """What ``apply`` would change; empty when the broker matches the catalogue."""
    existing = {d.name: d for d in describe(bootstrap, topics)}
    changes: list[TopicChange] = []
    for topic in topics:
        have = existing.get(topic.name)
        if have is None:
            changes.append(TopicChange(topic.name, "create", f"{topic.partitions} partitions"))
            continue
        if have.partitions < topic.partitions:
            changes.append(TopicChange(topic.name, "partitions",
                                       f"{have.partitions} -> {topic.partitions}"))
        diff = {k: v for k, v in topic.config().items() if have.config.get(k) != v}
        if diff:
            changes.append(TopicChange(topic.name, "config", ", ".join(
                f"{k}={v}" for k, v in sorted(diff.items()))))
    return changes


def apply(bootstrap: str, topics: tuple[Topic, ...] = TOPICS) -> list[TopicChange]:
    """Create missing topics, grow partitions, reconcile config. Returns the changes made.

    Replication is capped at the broker count, so a one-node local broker works.
    Partitions are never shrunk (Kafka cannot); a topic with more is left alone.
    """
    admin = admin_client(bootstrap)
    changes = plan(bootstrap, topics)
    if not changes:
        return []
    brokers = _broker_count(admin)
    by_name = {t.name: t for t in topics}
    creates = [
        NewTopic(c.topic, num_partitions=by_name[c.topic].partitions,
                 replication_factor=min(by_name[c.topic].replication, brokers),
                 config=by_name[c.topic].config())
        for c in changes if c.action == "create"
    ]
    grows = [NewPartitions(c.topic, by_name[c.topic].partitions)
             for c in changes if c.action == "partitions"]
    alters = [
        ConfigResource("topic", c.topic, incremental_configs=[
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in by_name[c.topic].config().items()])
        for c in changes if c.action == "config"
    ]
    try:
        if creates:
            _wait(admin.create_topics(creates, request_timeout=30))
        if grows:
            _wait(admin.create_partitions(grows, request_timeout=30))
        if alters:
            _wait(admin.incremental_alter_configs(alters, request_timeout=30))
    except KafkaException as exc:
        raise TopicAdminError(str(exc)) from exc
    _await_converged(bootstrap, topics)
    return changes


def _await_converged(bootstrap: str, topics: tuple[Topic, ...], timeout: float = 30.0) -> None:
    """Return once the broker reports the catalogue's state (metadata propagates async)."""
    deadline = time.monotonic() + timeout
    while True:
        pending = plan(bootstrap, topics)
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TopicAdminError(f"broker did not converge: {pending}")
        time.sleep(0.2)


def _wait(futures: dict) -> None:
    for fut in futures.values():
        fut.result(timeout=60)
