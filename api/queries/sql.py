"""A WHERE-clause builder that only ever binds values as server-side parameters.

Column names come from the caller's code (literals or allow-listed); values are
always ``{pN:Type}`` placeholders.

>>> w = Where()
>>> w.add("cluster IN {}", ["a"], "Array(String)")
>>> w.sql, w.params
('cluster IN {p0:Array(String)}', {'p0': ['a']})
"""

from __future__ import annotations

import re
from typing import Any

from api.errors import bad_request

LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.\-/]{0,127}$")
MS = "fromUnixTimestamp64Milli({}, 'UTC')"


class Where:
    """Conditions joined by AND with their bound parameters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: dict[str, Any] = {}

    def bind(self, value: Any, ch_type: str) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return "{" + f"{name}:{ch_type}" + "}"

    def add(self, template: str, value: Any, ch_type: str) -> None:
        """Append ``template`` with ``{}`` replaced by a placeholder for ``value``."""
        self.parts.append(template.replace("{}", self.bind(value, ch_type), 1))

    def raw(self, condition: str) -> None:
        self.parts.append(condition)

    def time_range(self, column: str, start_ms: int, end_ms: int) -> None:
        self.add(f"{column} >= " + MS, start_ms, "Int64")
        self.add(f"{column} < " + MS, end_ms, "Int64")

    def clusters(self, clusters: list[str] | None, column: str = "cluster") -> None:
        if clusters is not None:
            self.add(f"{column} IN {{}}", clusters, "Array(String)")

    def any_of(self, column: str, values: list[str] | None) -> None:
        if values:
            self.add(f"{column} IN {{}}", values, "Array(String)")

    @property
    def sql(self) -> str:
        return " AND ".join(self.parts) if self.parts else "1"


def label_name(name: str) -> str:
    """A label name accepted in matchers and ``by``; anything else is a 400."""
    if not LABEL_RE.match(name):
        raise bad_request(f"invalid label name {name!r}", label=name)
    return name


def allowed(value: str, allow: tuple[str, ...] | frozenset[str], what: str) -> str:
    """``value`` if it is in the allow-list, else a 400."""
    if value not in allow:
        raise bad_request(f"unknown {what} {value!r}", allowed=sorted(allow))
    return value


def kv(pairs: list[str] | None, what: str = "label") -> list[tuple[str, str]]:
    """``k=v`` strings to pairs (label filters on maps)."""
    out = []
    for p in pairs or []:
        k, sep, v = p.partition("=")
        if not sep:
            raise bad_request(f"{what} filter must be key=value, got {p!r}")
        out.append((label_name(k), v))
    return out
