"""Service call-graph neighbours per cluster, from the trace dependency graph.

``service_edges`` names services by their span ``service.name`` (no namespace) while
members name them ``namespace/service``; neighbours therefore match on the bare name.

>>> g = CallGraph({"c1": [("frontend", "cart"), ("cart", "redis")]})
>>> g.neighbours("c1", "shop/cart") == {"frontend", "redis"}
True
>>> g.adjacent("c1", ["shop/frontend"], ["shop/redis"])
False
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any


def bare(service: str) -> str:
    """``namespace/service`` -> ``service``."""
    return service.rsplit("/", 1)[-1]


class CallGraph:
    """Undirected caller/callee adjacency by cluster."""

    def __init__(self, edges: Mapping[str, Iterable[tuple[str, str]]] | None = None) -> None:
        self._adj: dict[str, dict[str, set[str]]] = {}
        for cluster, pairs in (edges or {}).items():
            adj: dict[str, set[str]] = defaultdict(set)
            for caller, callee in pairs:
                a, b = bare(caller), bare(callee)
                if a != b:
                    adj[a].add(b)
                    adj[b].add(a)
            self._adj[cluster] = dict(adj)

    def __len__(self) -> int:
        return sum(len(v) for v in self._adj.values())

    def neighbours(self, cluster: str, service: str) -> set[str]:
        """Bare names of the services that call or are called by ``service``."""
        return self._adj.get(cluster, {}).get(bare(service), set())

    def adjacent(self, cluster: str, ours: Iterable[str], theirs: Iterable[str]) -> bool:
        """True when a service of ``ours`` calls or is called by one of ``theirs``."""
        targets = {bare(s) for s in theirs}
        return any(self.neighbours(cluster, s) & targets for s in ours)


def load(client: Any, database: str, window_s: int) -> CallGraph:
    """The call graph of the last ``window_s`` seconds from ClickHouse ``service_edges``."""
    rows = client.query(
        f"SELECT cluster, parent_service, child_service FROM `{database}`.service_edges "
        "WHERE timestamp >= now() - toIntervalSecond({w:UInt32}) "
        "GROUP BY cluster, parent_service, child_service",
        parameters={"w": int(window_s)},
    ).result_rows
    edges: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for cluster, parent, child in rows:
        edges[str(cluster)].append((str(parent), str(child)))
    return CallGraph(edges)
