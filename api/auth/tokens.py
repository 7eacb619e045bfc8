"""Static API tokens in ClickHouse (``api_tokens``), stored as SHA-256 hashes.

A token reads ``aiops_<id>_<secret>``: ``id`` is public (listing, revoking), the
secret is 32 random bytes; only ``sha256(token)`` is kept. Lookups are cached for
a few seconds so a request costs no ClickHouse round trip.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from api.auth.principal import Principal, Role

PREFIX = "aiops_"


def _utc(dt: datetime | None) -> datetime | None:
    """ClickHouse DateTime64('UTC') values as aware datetimes."""
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """A stored token without its secret."""

    token_id: str
    name: str
    role: str
    clusters: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked: bool


class TokenStore:
    """Create, list, revoke and verify static tokens."""

    def __init__(self, client: Client, database: str, cache_s: float = 5.0) -> None:
        self.client = client
        self.table = f"`{database}`.api_tokens"
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def create(self, name: str, role: Role, clusters: Sequence[str] = (),
               expires_at: datetime | None = None) -> tuple[str, TokenInfo]:
        """A new token; the secret is returned once and never stored."""
        token_id = secrets.token_hex(6)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        now = datetime.now(UTC)
        row = [token_id, hash_token(token), name, role.value, sorted(set(clusters)), now,
               expires_at, 0, time.time_ns()]
        with self._lock:
            self.client.insert(self.table, [row], column_names=[
                "token_id", "token_hash", "name", "role", "clusters", "created_at",
                "expires_at", "revoked", "version"])
        return token, TokenInfo(token_id, name, role.value, sorted(set(clusters)), now,
                                expires_at, False)

    def _rows(self, where: str = "1", params: dict[str, Any] | None = None) -> list[tuple]:
        with self._lock:
            return self.client.query(
                "SELECT token_id, token_hash, name, role, clusters, created_at, expires_at,"
                f" revoked FROM {self.table} FINAL WHERE {where} ORDER BY created_at",
                parameters=params or {}).result_rows

    def list(self) -> list[TokenInfo]:
        return [TokenInfo(r[0], r[2], r[3], list(r[4]), _utc(r[5]), _utc(r[6]), bool(r[7]))
                for r in self._rows()]

    def count_active(self) -> int:
        return sum(1 for t in self.list() if not t.revoked)

    def revoke(self, token_id: str) -> bool:
        """Revoke by id; False when no such token."""
        rows = self._rows("token_id = {id:String}", {"id": token_id})
        if not rows:
            return False
        r = rows[0]
        with self._lock:
            self.client.insert(self.table, [[r[0], r[1], r[2], r[3], list(r[4]), r[5], r[6], 1,
                                             time.time_ns()]], column_names=[
                "token_id", "token_hash", "name", "role", "clusters", "created_at",
                "expires_at", "revoked", "version"])
        self._cache.clear()
        return True

    def verify(self, token: str) -> Principal | None:
        """The token's principal, or None when unknown, revoked or expired."""
        digest = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit and now - hit[0] < self.cache_s:
            return hit[1]
        principal = None
        if token.startswith(PREFIX):
            token_id = token[len(PREFIX):].split("_", 1)[0]
            rows = self._rows("token_id = {id:String}", {"id": token_id})
            for r in rows:
                expired = r[6] is not None and _utc(r[6]) <= datetime.now(UTC)
                if r[7] or expired or not secrets.compare_digest(r[1], digest):
                    continue
                principal = Principal(r[0], r[2], Role(r[3]),
                                      frozenset(r[4]) if r[4] else None, "static")
        self._cache[digest] = (now, principal)
        return principal
