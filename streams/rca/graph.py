"""Service dependency graph: who calls whom, from dependency edges and EDGE anomalies."""

from __future__ import annotations

from collections.abc import Iterable

from streams.rca.context import DependencyEdge


class ServiceGraph:
    """Directed caller -> callee graph over service names.

    >>> g = ServiceGraph([DependencyEdge("frontend", "cart"), DependencyEdge("cart", "redis")])
    >>> g.callees("frontend"), g.callers("redis"), g.degree("cart")
    (('cart',), ('cart',), 2)
    """

    def __init__(self, edges: Iterable[DependencyEdge] = (),
                 pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._out: dict[str, set[str]] = {}
        self._in: dict[str, set[str]] = {}
        self.edges: dict[tuple[str, str], DependencyEdge] = {}
        for e in edges:
            self.edges[(e.caller, e.callee)] = e
            self.add(e.caller, e.callee)
        for caller, callee in pairs:
            self.add(caller, callee)

    def add(self, caller: str, callee: str) -> None:
        if caller == callee:
            return
        self._out.setdefault(caller, set()).add(callee)
        self._in.setdefault(callee, set()).add(caller)

    def callees(self, service: str) -> tuple[str, ...]:
        return tuple(sorted(self._out.get(service, ())))

    def callers(self, service: str) -> tuple[str, ...]:
        return tuple(sorted(self._in.get(service, ())))

    def degree(self, service: str) -> int:
        return len(self._out.get(service, ())) + len(self._in.get(service, ()))

    def services(self) -> tuple[str, ...]:
        return tuple(sorted(set(self._out) | set(self._in)))

    def __contains__(self, service: object) -> bool:
        return service in self._out or service in self._in
