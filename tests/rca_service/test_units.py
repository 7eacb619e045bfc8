"""RCA worker pieces: doctests; an incident context read from the real ClickHouse."""

from __future__ import annotations

import doctest
import importlib
import time

import pytest

from connectors.clickhouse.client import connect
from streams.rca_service import contexts
from streams.rca_service.history import HistoryReader
from tests.correlate.scenario import first_wave, history_database, second_wave
from tests.rca_service.data import incident, insert_anomalies, insert_edges, insert_span

#: Recent enough for the history tables' TTLs.
T0 = int(time.time() * 1000) // 60_000 * 60_000 - 3_600_000


@pytest.mark.parametrize("name", ["contexts", "history", "report"])
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(f"streams.rca_service.{name}"))
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.stack
def test_context_from_clickhouse(stack, unique, tmp_path) -> None:
    """Edges are qualified with the incident's namespaces; missing members are waited for
    and then reported."""
    database = f"rcactx_{unique}"
    history_database(stack.clickhouse_url, database, tmp_path / "migrations")
    members = [a for a in first_wave("c1", T0) + second_wave("c1", T0)
               if a["anomaly_id"] in ("redis-mem", "cart-latency")]
    client = connect(stack.clickhouse_url)
    insert_anomalies(client, database, members)
    insert_edges(client, database, "c1", [("cart", "redis"), ("cart", "db"), ("x", "y")], T0)
    inc = incident("c1", "inc", 1, members)
    inc["anomaly_ids"].append("not-yet-written")
    started = time.monotonic()
    built = contexts.build(inc, HistoryReader(client, database), lookback_ms=600_000,
                           wait_s=0.5, poll_s=0.1)
    client.close()
    assert time.monotonic() - started >= 0.5
    assert built.missing_anomalies == ["not-yet-written"]
    assert sorted(a["anomaly_id"] for a in built.context.anomalies) == [
        "cart-latency", "redis-mem"]
    redis = next(a for a in built.context.anomalies if a["anomaly_id"] == "redis-mem")
    assert redis["start_ts"] == T0 + 2000 and redis["labels"]["pod"] == "redis-0"
    assert sorted((e.caller, e.callee) for e in built.context.edges) == [
        ("shop/cart", "cache/redis"), ("shop/cart", "db")]
    assert built.context.window_start_ts == T0 + 2000 - contexts.SLACK_MS


@pytest.mark.stack
def test_node_placement_from_span_resources(stack, unique, tmp_path) -> None:
    """Node -> the services serving requests on it in the window, from the spans'
    ``k8s.node.name``: client spans, other nodes, clusters and times are left out."""
    database = f"rcanode_{unique}"
    history_database(stack.clickhouse_url, database, tmp_path / "migrations")
    client = connect(stack.clickhouse_url)
    for tid, svc, ns, node, kind, cluster, at in (
            ("t1", "cart", "shop", "w1", "SERVER", "c1", T0),
            ("t2", "cart", "shop", "w1", "SERVER", "c1", T0 + 1000),
            ("t3", "catalog", "shop", "w1", "SERVER", "c1", T0),
            ("t4", "frontend", "shop", "w1", "CLIENT", "c1", T0),
            ("t5", "redis", "cache", "w2", "SERVER", "c1", T0),
            ("t6", "ads", "shop", "w1", "SERVER", "c2", T0),
            ("t7", "email", "shop", "w1", "SERVER", "c1", T0 - 600_000)):
        insert_span(client, database, cluster, tid, svc, ns, f"{svc}-0", at, 1.0, False,
                    node=node, kind=kind)
    reader = HistoryReader(client, database)
    placed = reader.node_services("c1", ["w1", "w3"], T0 - 60_000, T0 + 60_000)
    assert reader.node_services("c1", [], T0 - 60_000, T0 + 60_000) == {}
    client.close()
    assert placed == {"w1": ["shop/cart", "shop/catalog"]}
