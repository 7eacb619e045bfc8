"""Partition state checkpoints on the compacted topic ``aiops.detector-state``.

A checkpoint of input partition ``p`` is split into chunks of at most ``chunk_bytes``;
chunk ``i > 0`` has key ``<group>/<topic>/<p>#<i>`` and chunk 0 the key
``<group>/<topic>/<p>``.  All chunks of one partition go to the same state-topic partition
and chunk 0 is written last, so once chunk 0 is durable the whole checkpoint is; readers
take the latest chunk 0 and the chunks of the same ``generation``.  Compaction keeps only
the latest value per key.
"""

from __future__ import annotations

import time
import uuid
import zlib
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from schemas.codec import Codec
from streams.kafka.clients import make_consumer, make_producer
from streams.logs_setup import get_logger

STATE_TOPIC = "aiops.detector-state"
log = get_logger(__name__)


@dataclass
class Checkpoint:
    """A restored checkpoint: the next input offset and the state bytes."""

    offset: int
    data: bytes
    generation: str


def state_key(group: str, topic: str, partition: int) -> str:
    return f"{group}/{topic}/{partition}"


class CheckpointStore:
    """Write and read partition checkpoints."""

    def __init__(self, bootstrap: str, *, topic: str = STATE_TOPIC,
                 chunk_bytes: int = 4 * 1024 * 1024, state_partitions: int | None = None
                 ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.chunk_bytes = int(chunk_bytes)
        self.codec = Codec("detector_state")
        self.producer = make_producer(bootstrap, **{"linger.ms": 5})
        self._partitions = state_partitions

    def n_partitions(self) -> int:
        if self._partitions is None:
            md = self.producer.list_topics(self.topic, timeout=10)
            meta = md.topics.get(self.topic)
            if meta is None or meta.error is not None or not meta.partitions:
                raise RuntimeError(f"state topic {self.topic} is missing; run aiops topics apply")
            self._partitions = len(meta.partitions)
        return self._partitions

    def _state_partition(self, key: str) -> int:
        return zlib.crc32(key.encode()) % self.n_partitions()

    def save(self, group: str, topic: str, partition: int, offset: int, data: bytes) -> float:
        """Write one checkpoint and wait until it is durable; return the seconds it took."""
        t0 = time.perf_counter()
        base = state_key(group, topic, partition)
        part = self._state_partition(base)
        gen = uuid.uuid4().hex
        chunks = [data[i: i + self.chunk_bytes] for i in range(0, len(data), self.chunk_bytes)]
        chunks = chunks or [b""]
        errors: list[str] = []

        def on_delivery(err: object, _msg: object) -> None:
            if err is not None:
                errors.append(str(err))

        now = int(time.time() * 1000)
        for i in [*range(1, len(chunks)), 0]:
            value = self.codec.encode({
                "group": group, "topic": topic, "partition": int(partition),
                "offset": int(offset), "generation": gen, "chunk": i, "chunks": len(chunks),
                "format": "npz", "data": chunks[i], "created_ts": now,
            })
            key = base if i == 0 else f"{base}#{i}"
            self._produce(key, value, part, on_delivery)
        left = self.producer.flush(60)
        if left or errors:
            raise RuntimeError(f"checkpoint of {base} not durable: {errors or left}")
        return time.perf_counter() - t0

    def _produce(self, key: str, value: bytes, part: int, cb: object) -> None:
        while True:
            try:
                self.producer.produce(self.topic, value=value, key=key, partition=part,
                                      on_delivery=cb)
                return
            except BufferError:
                self.producer.poll(0.1)

    def load(self, group: str, topic: str, partitions: list[int]) -> dict[int, Checkpoint]:
        """Latest complete checkpoint of each input partition that has one."""
        wanted = {state_key(group, topic, p): p for p in partitions}
        state_parts = sorted({self._state_partition(k) for k in wanted})
        latest: dict[str, dict] = {}
        consumer: Consumer = make_consumer(self.bootstrap, f"detect-restore-{uuid.uuid4().hex}")
        try:
            ends = {}
            for sp in state_parts:
                _lo, hi = consumer.get_watermark_offsets(TopicPartition(self.topic, sp),
                                                         timeout=10)
                ends[sp] = hi
            todo = {sp for sp, hi in ends.items() if hi > 0}
            consumer.assign([TopicPartition(self.topic, sp, OFFSET_BEGINNING) for sp in todo])
            while todo:
                msgs = consumer.consume(1000, timeout=1.0)
                if not msgs:
                    pos = consumer.position([TopicPartition(self.topic, sp) for sp in todo])
                    todo -= {tp.partition for tp in pos if tp.offset >= ends[tp.partition]}
                for m in msgs:
                    if m.error():
                        raise KafkaException(m.error())
                    key = (m.key() or b"").decode()
                    if key.split("#", 1)[0] in wanted:
                        latest[key] = self.codec.decode(m.value()) if m.value() else {}
                    if m.offset() + 1 >= ends[m.partition()]:
                        todo.discard(m.partition())
        finally:
            consumer.close()
        out: dict[int, Checkpoint] = {}
        for base, p in wanted.items():
            head = latest.get(base)
            if not head:
                continue
            parts = [head["data"]]
            for i in range(1, head["chunks"]):
                rec = latest.get(f"{base}#{i}")
                if not rec or rec["generation"] != head["generation"]:
                    log.warning("checkpoint incomplete, cold start", key=base, chunk=i)
                    break
                parts.append(rec["data"])
            else:
                out[p] = Checkpoint(head["offset"], b"".join(parts), head["generation"])
        return out

    def close(self) -> None:
        self.producer.flush(30)
