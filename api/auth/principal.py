"""Who is calling: role and cluster scope.

>>> p = Principal("t1", "ci", Role.VIEWER, frozenset({"a"}))
>>> p.can(Role.VIEWER), p.can(Role.OPERATOR), p.sees("a"), p.sees("b")
(True, False, True, False)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Role(enum.StrEnum):
    """RBAC ladder: each role includes the ones below it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller; ``clusters`` None means every cluster."""

    subject: str
    name: str
    role: Role
    clusters: frozenset[str] | None = None
    source: str = "static"

    def can(self, role: Role) -> bool:
        return self.role.rank >= role.rank

    def sees(self, cluster: str) -> bool:
        return self.clusters is None or cluster in self.clusters

    def restrict(self, wanted: Iterable[str] | None) -> list[str] | None:
        """Clusters a query may touch: ``wanted`` within scope (None = unrestricted)."""
        wanted_set = {w for w in (wanted or []) if w}
        if self.clusters is None:
            return sorted(wanted_set) if wanted_set else None
        if not wanted_set:
            return sorted(self.clusters)
        return sorted(wanted_set & self.clusters)


INSECURE_DEV = Principal("insecure-dev", "insecure-dev", Role.ADMIN, None, "insecure-dev")
