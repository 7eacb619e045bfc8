"""Per-group timing: group wait, group interval, throttle (resolutions pass), mute."""

from __future__ import annotations

from connectors.notify.notification import from_incident
from connectors.notify.routing import parse_routes
from streams.notify.schedule import Schedule
from tests.notify.records import incident

DOC = """
endpoints: [{name: h, url: "http://x"}]
routes:
  - name: r
    endpoints: [h]
    group_wait_s: 10
    group_interval_s: 60
    throttle: {max: 2, window_s: 100}
"""


def test_group_wait_then_interval_then_throttle():
    route = parse_routes(DOC).routes[0]
    s = Schedule()
    note = from_incident(incident("c", "i"))
    assert s.place(route, "h", "g", note, now_ms=0) == ("PENDING", 10_000)
    s.sent("h", "r", "g", 10_000)
    assert s.place(route, "h", "g", note, now_ms=20_000) == ("PENDING", 70_000)
    assert s.place(route, "h", "g", note, now_ms=30_000)[0] == "THROTTLED"
    resolved = from_incident(incident("c", "i", status="RESOLVED", version=3))
    assert s.place(route, "h", "g", resolved, now_ms=30_000) == ("PENDING", 70_000)
    assert s.place(route, "h", "g", note, now_ms=200_000) == ("PENDING", 200_000)
    assert s.place(route, "h", "other", note, now_ms=0) == ("PENDING", 10_000)
