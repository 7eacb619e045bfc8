"""Chat sessions: conversation turns per caller, expiring after a day idle.

A session belongs to the principal that created it; nobody else can read or extend it.
Expired sessions are dropped on access and by :meth:`SessionStore.sweep`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streams.llm.base import Message


@dataclass
class ChatSession:
    """One conversation."""

    session_id: str
    owner: str
    persona: str
    created_s: float
    last_active_s: float
    messages: list[Message] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    busy: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def summary(self, ttl_s: float) -> dict[str, Any]:
        return {"session_id": self.session_id, "persona": self.persona,
                "created_ms": int(self.created_s * 1000),
                "last_active_ms": int(self.last_active_s * 1000),
                "expires_ms": int((self.last_active_s + ttl_s) * 1000),
                "messages": len(self.messages), "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out}

    def transcript(self) -> list[dict[str, Any]]:
        out = []
        for m in self.messages:
            item: dict[str, Any] = {"role": m.role, "content": m.content}
            if m.tool_calls:
                item["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments}
                                      for c in m.tool_calls]
            if m.tool_call_id:
                item["tool_call_id"] = m.tool_call_id
            out.append(item)
        return out


class SessionStore:
    """In-memory sessions with an idle time-to-live (``ttl_s``)."""

    def __init__(self, ttl_s: float = 86_400.0, max_per_owner: int = 100,
                 clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self.max_per_owner = max_per_owner
        self._clock = clock
        self._sessions: dict[str, ChatSession] = {}
        self._lock = threading.Lock()

    def create(self, owner: str, persona: str) -> ChatSession:
        now = self._clock()
        self.sweep()
        with self._lock:
            mine = sorted((s for s in self._sessions.values() if s.owner == owner),
                          key=lambda s: s.last_active_s)
            for old in mine[:max(0, len(mine) - self.max_per_owner + 1)]:
                del self._sessions[old.session_id]  # the least recently used go first
            session = ChatSession(secrets.token_hex(12), owner, persona, now, now)
            self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str, owner: str) -> ChatSession | None:
        """The live session if ``owner`` owns it (None: unknown, expired or someone else's)."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if self._clock() - session.last_active_s > self.ttl_s:
                del self._sessions[session_id]
                return None
        return session if secrets.compare_digest(session.owner, owner) else None

    def touch(self, session: ChatSession) -> None:
        session.last_active_s = self._clock()

    def list(self, owner: str) -> list[ChatSession]:
        self.sweep()
        with self._lock:
            return sorted((s for s in self._sessions.values() if s.owner == owner),
                          key=lambda s: -s.last_active_s)

    def delete(self, session_id: str, owner: str) -> bool:
        if self.get(session_id, owner) is None:
            return False
        with self._lock:
            return self._sessions.pop(session_id, None) is not None

    def sweep(self) -> int:
        """Drop expired sessions; returns how many."""
        cutoff = self._clock() - self.ttl_s
        with self._lock:
            dead = [k for k, s in self._sessions.items() if s.last_active_s < cutoff]
            for k in dead:
                del self._sessions[k]
        return len(dead)
