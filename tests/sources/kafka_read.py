"""Read back what a collector published (decoded), filtered by cluster."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer

from schemas.codec import Codec


def read_records(bootstrap: str, topic: str, schema: str, cluster: str, *, key_prefix: str = "",
                 min_count: int = 1, timeout_s: float = 30) -> list[dict]:
    """Records of ``cluster`` on ``topic`` (from the start) once ``min_count`` arrived."""
    codec = Codec(schema)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    out: list[dict] = []
    try:
        for _ in range(int(timeout_s / 0.5)):
            for m in consumer.consume(1000, timeout=0.5):
                if m.error() or not (m.key() or b"").decode().startswith(key_prefix or cluster):
                    continue
                rec = codec.decode(m.value())
                if rec.get("cluster", rec.get("name")) == cluster:
                    out.append(rec)
            if len(out) >= min_count:
                break
    finally:
        consumer.close()
    return out


def samples(batches: list[dict]) -> list[tuple[str, dict, float, int]]:
    """(name, labels, value, series_id) of every sample in MetricBatches."""
    return [(n, lbl, v, sid) for b in batches
            for n, lbl, v, sid in zip(b["names"], b["labels"], b["values"], b["series_ids"],
                                      strict=True)]
