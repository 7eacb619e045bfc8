"""Consumer-group lag: committed offsets against high watermarks, in records and in seconds.

Lag in seconds is the age of the oldest record a group has not consumed yet (the Kafka
timestamp of the record at its committed offset), so it reads the same under any load.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass
class GroupLag:
    """One group's position over the topics it consumes."""

    group: str
    lag: int  # records behind the high watermarks
    lag_s: float  # age of the oldest unconsumed record (0 when caught up)
    committed: int  # sum of committed offsets (grows with consumption)


class LagProbe:
    """Reads group offsets and watermarks with one AdminClient and one peeking Consumer."""

    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka import Consumer
        from confluent_kafka.admin import AdminClient

        self.admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "log_level": 0,
                                  "group.id": f"aiops-lag-probe-{uuid.uuid4().hex[:8]}",
                                  "enable.auto.commit": False})
        self._parts: dict[str, list[int]] = {}
        self.peek_partitions = 4

    def close(self) -> None:
        self.consumer.close()

    def _partitions(self, topic: str) -> list[int]:
        if topic not in self._parts:
            meta = self.consumer.list_topics(topic, timeout=5).topics.get(topic)
            if meta is None or meta.error is not None:
                return []
            self._parts[topic] = sorted(meta.partitions)
        return self._parts[topic]

    def committed(self, group: str, topics: tuple[str, ...]) -> dict[tuple[str, int], int]:
        """(topic, partition) -> committed offset (-1 when the group has none)."""
        from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

        wanted = [TopicPartition(t, p) for t in topics for p in self._partitions(t)]
        if not wanted:
            return {}
        futures = self.admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, wanted)], request_timeout=5)
        result = futures[group].result(timeout=10)
        return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions}

    def measure(self, group: str, topics: tuple[str, ...], now_ms: int | None = None) -> GroupLag:
        """The group's lag over ``topics`` (a group with no commit starts at the low mark)."""
        from confluent_kafka import TopicPartition

        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        lag, total = 0, 0
        behind: list[Any] = []
        for (topic, part), offset in self.committed(group, topics).items():
            lo, hi = self.consumer.get_watermark_offsets(TopicPartition(topic, part), timeout=5)
            position = offset if offset >= 0 else lo
            total += max(position, 0)
            if hi > position:
                lag += hi - position
                behind.append((hi - position, TopicPartition(topic, part, max(position, lo))))
        # Peek the most lagging partitions only: the oldest record is almost always there.
        behind.sort(key=lambda item: -item[0])
        peek = [tp for _, tp in behind[:self.peek_partitions]]
        return GroupLag(group, lag, self._oldest_age_s(peek, now_ms), total)

    def _oldest_age_s(self, behind: list[Any], now_ms: int, timeout_s: float = 0.5) -> float:
        if not behind:
            return 0.0
        self.consumer.assign(behind)
        oldest: int | None = None
        seen: set[tuple[str, int]] = set()
        deadline = time.monotonic() + timeout_s
        try:
            while len(seen) < len(behind) and time.monotonic() < deadline:
                msg = self.consumer.poll(0.2)
                if msg is None or msg.error():
                    continue
                key = (msg.topic(), msg.partition())
                if key in seen:
                    continue
                seen.add(key)
                ts = msg.timestamp()[1]
                if ts > 0:
                    oldest = ts if oldest is None else min(oldest, ts)
        finally:
            self.consumer.unassign()
        return max(0.0, (now_ms - oldest) / 1000) if oldest is not None else 0.0
