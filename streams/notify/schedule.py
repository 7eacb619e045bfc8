"""Timing of deliveries per route group: mute, throttle, group wait/interval, supersede.

>>> from connectors.notify.routing import parse_routes
>>> from connectors.notify.notification import Notification
>>> cfg = parse_routes('''
... endpoints: [{name: h, url: "http://x"}]
... routes: [{name: r, endpoints: [h], group_interval_s: 60, throttle: {max: 1, window_s: 600}}]
... ''')
>>> s = Schedule()
>>> route = cfg.routes[0]
>>> n = Notification("incident:a", "OPEN", 1, "c", "HIGH", "t", "s", 0)
>>> s.place(route, "h", "cluster=c", n, now_ms=1000)
('PENDING', 1000)
>>> s.sent("h", route.name, "cluster=c", 1000)
>>> s.place(route, "h", "cluster=c", n, now_ms=2000)
('THROTTLED', 2000)
"""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import UTC, datetime

from connectors.notify.notification import Notification
from connectors.notify.routing import Route

GroupId = tuple[str, str, str]  # endpoint, route, group key


class Schedule:
    """Per-group memory: when it last sent, and how many it accepted lately."""

    def __init__(self) -> None:
        self.last_sent: dict[GroupId, int] = {}
        self.accepted: dict[GroupId, deque[int]] = defaultdict(deque)

    def place(self, route: Route, endpoint: str, group_key: str, note: Notification,
              *, now_ms: int) -> tuple[str, int]:
        """(state, first attempt time) for a new delivery: PENDING, MUTED or THROTTLED."""
        gid = (endpoint, route.name, group_key)
        if route.muted(datetime.fromtimestamp(now_ms / 1000, UTC)):
            return "MUTED", now_ms
        if route.throttle is not None and note.firing:
            window = self.accepted[gid]
            horizon = now_ms - int(route.throttle.window_s * 1000)
            while window and window[0] < horizon:
                window.popleft()
            if len(window) >= route.throttle.max:
                return "THROTTLED", now_ms
            window.append(now_ms)
        last = self.last_sent.get(gid)
        if last is None:
            return "PENDING", now_ms + int(route.group_wait_s * 1000)
        return "PENDING", max(now_ms, last + int(route.group_interval_s * 1000))

    def sent(self, endpoint: str, route: str, group_key: str, at_ms: int) -> None:
        """Remember a successful delivery of the group."""
        gid = (endpoint, route, group_key)
        self.last_sent[gid] = max(self.last_sent.get(gid, 0), at_ms)

    def accepted_before(self, endpoint: str, route: str, group_key: str, at_ms: int) -> None:
        """Count an earlier accepted delivery (rebuilding state after a restart)."""
        self.accepted[(endpoint, route, group_key)].append(at_ms)
