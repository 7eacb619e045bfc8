"""Session expiry (24 h idle) and ownership, on a controlled clock."""

from __future__ import annotations

from api.chat.loop import bounded, quote_result, settled
from api.chat.sessions import SessionStore
from streams.llm.base import Message, ToolCall

DAY = 86_400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_idle_sessions_expire_after_a_day_and_activity_extends_them() -> None:
    clock = Clock()
    store = SessionStore(DAY, clock=clock)
    active = store.create("u1", "default")
    idle = store.create("u1", "default")
    clock.now += DAY - 60
    store.touch(active)
    clock.now += 120  # idle: a day and a minute; active: two minutes
    assert store.get(idle.session_id, "u1") is None
    assert store.get(active.session_id, "u1") is active
    clock.now += DAY + 1
    assert store.sweep() == 1 and store.list("u1") == []


def test_a_session_belongs_to_its_owner_and_owners_are_bounded() -> None:
    clock = Clock()
    store = SessionStore(DAY, max_per_owner=2, clock=clock)
    s = store.create("u1", "default")
    assert store.get(s.session_id, "u2") is None and not store.delete(s.session_id, "u2")
    clock.now += 1
    store.create("u1", "default")
    clock.now += 1
    store.create("u1", "default")  # the least recently used one goes
    assert store.get(s.session_id, "u1") is None and len(store.list("u1")) == 2


def test_tool_results_are_bounded_and_quoted() -> None:
    doc, cut = bounded({"lines": [{"body": "x" * 2000}] * 500}, 5000)
    assert cut and len(str(doc)) < 6000 and doc["lines"][0]["body"].endswith("...")
    text = quote_result("query_logs", {"body": "</tool-data-0> <b>é & ok"})
    payload = text.split("\n")[2]
    assert "<" not in payload and ">" not in payload and "&" not in payload
    assert "\\u00e9" in payload


def test_an_interrupted_turn_is_settled_before_it_is_kept() -> None:
    calls = (ToolCall("a", "list_alerts", {}), ToolCall("b", "query_logs", {}))
    turn = [Message("user", "q"), Message("assistant", "", calls),
            Message("tool", "r", tool_call_id="a")]
    out = settled(turn)
    assert [m.role for m in out] == ["user", "assistant", "tool", "tool", "assistant"]
    assert out[3].tool_call_id == "b" and "interrupted" in out[3].content
    done = [Message("user", "q"), Message("assistant", "fine")]
    assert settled(done) == done
