"""Steady metric load for the sink tests: a producer thread that remembers what it sent."""

from __future__ import annotations

import threading
import time

from confluent_kafka.admin import AdminClient, NewTopic

from schemas.codec import Codec
from streams.kafka.clients import make_producer
from tests.sinks.records import metrics

CODEC = Codec("metric_batch")


def create_topics(bootstrap: str, partitions: dict[str, int]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(t, p, 1) for t, p in partitions.items()])
    for fut in futures.values():
        fut.result(30)


class MetricLoad(threading.Thread):
    """Produces ``messages`` MetricBatches of ``samples`` distinct series at ``rate``/s.

    Every ``garbage_every``-th message is undecodable bytes instead.
    """

    def __init__(self, bootstrap: str, topic: str, messages: int, samples: int = 50,
                 rate: float = 100.0, garbage_every: int = 0) -> None:
        super().__init__(daemon=True)
        self.producer = make_producer(bootstrap, **{"linger.ms": 5})
        self.topic, self.messages, self.samples, self.rate = topic, messages, samples, rate
        self.garbage_every = garbage_every
        self.rows = 0
        self.garbage = 0
        self.done = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        now_ms = int(time.time() * 1000)
        for i in range(self.messages):
            key = f"target-{i % 16}".encode()
            if self.garbage_every and i % self.garbage_every == self.garbage_every - 1:
                self.producer.produce(self.topic, key=key, value=b"\xc3\x01garbage" + bytes(i % 7))
                self.garbage += 1
            else:
                batch = metrics("c1", key.decode(), self.samples, now_ms + i,
                                start=i * self.samples)
                self.producer.produce(self.topic, key=key, value=CODEC.encode(batch))
                self.rows += self.samples
            self.producer.poll(0)
            delay = start + (i + 1) / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        assert self.producer.flush(60) == 0
        self.done.set()
