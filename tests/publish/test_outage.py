"""Stop the broker mid-stream, restart it, and every sample within the spool limit arrives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.publish.kafka import KafkaPublisher
from streams.stack.manager import LocalStack
from streams.stack.ports import free_port
from tests.conftest import local_settings
from tests.publish.test_kafka_publisher import consume_all, create_topic

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture()
def own_broker(tmp_path: Path) -> Iterator[LocalStack]:
    """A private broker on a fixed port (a restart keeps its address); no ClickHouse."""
    local = LocalStack(local_settings(tmp_path / "stack", kafka_port=free_port(),
                                      clickhouse_url="http://127.0.0.1:9/unused"))
    local.up(timeout=180)
    try:
        yield local
    finally:
        local.down()


def keys_of(messages: list) -> list[int]:
    return [int(m.key()) for m in messages]


def test_outage_spools_and_replays_in_order(own_broker: LocalStack, tmp_path: Path) -> None:
    bootstrap = own_broker.kafka_bootstrap()
    create_topic(bootstrap, "t.ample", partitions=1)
    create_topic(bootstrap, "t.small", partitions=1)
    create_topic(bootstrap, "t.restart", partitions=1)
    ample = KafkaPublisher(bootstrap, spool_dir=tmp_path / "ample")
    small = KafkaPublisher(bootstrap, spool_max_bytes=20_000)  # in memory, ~200 records
    value = b"v" * 64

    def send(pub: KafkaPublisher, topic: str, lo: int, hi: int) -> None:
        for i in range(lo, hi):
            pub.publish(topic, str(i).encode(), value)
            pub.poll(0)

    send(ample, "t.ample", 0, 500)
    send(small, "t.small", 0, 500)
    assert ample.flush(30) == 0 and small.flush(30) == 0

    own_broker.down()
    # mid-stream: keep publishing while the broker is gone
    send(ample, "t.ample", 500, 1500)
    send(small, "t.small", 500, 1500)
    ample.poll(1.0)
    small.poll(1.0)
    assert not ample.online and not small.online
    assert ample.spool_depth > 0 and ample.dropped == 0
    assert small.dropped > 0  # its spool limit was exceeded: the oldest went
    # a third publisher spools to disk and exits while the broker is down
    restart = KafkaPublisher(bootstrap, spool_dir=tmp_path / "restart")
    send(restart, "t.restart", 0, 300)
    restart.close(timeout=1.0)
    assert list((tmp_path / "restart").glob("*.spool"))

    own_broker.up(timeout=180)
    assert own_broker.kafka_bootstrap() == bootstrap
    send(ample, "t.ample", 1500, 1600)
    assert ample.flush(120) == 0 and small.flush(120) == 0
    assert ample.online and ample.counters.outages >= 1
    reborn = KafkaPublisher(bootstrap, spool_dir=tmp_path / "restart")
    assert reborn.spool_depth == 300
    assert reborn.flush(120) == 0
    for pub in (ample, small, reborn):
        pub.close()

    got = keys_of(consume_all(bootstrap, "t.ample", 1600))
    # at-least-once: every sample arrives; a replay may repeat a record, never reorder them
    assert set(got) == set(range(1600))
    assert sorted(set(got)) == list(dict.fromkeys(got))
    got_small = keys_of(consume_all(bootstrap, "t.small", 1500 - small.dropped))
    lost = set(range(1500)) - set(got_small)
    assert len(lost) == small.dropped
    # what was dropped is the oldest part of the outage, nothing sent before it
    assert lost == set(range(min(lost), min(lost) + len(lost))) and min(lost) >= 500
    assert set(keys_of(consume_all(bootstrap, "t.restart", 300))) == set(range(300))
