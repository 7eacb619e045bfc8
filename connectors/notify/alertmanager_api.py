"""Incidents as alerts on an Alertmanager's v2 API (``POST /api/v2/alerts``).

A firing alert is posted with ``endsAt`` = now + TTL and re-posted every refresh
interval while the incident is open (Alertmanager resolves an alert that is not
refreshed before its ``endsAt``); a resolution is posted with ``endsAt`` = the
resolution time, which resolves it at once. Alertmanager's own routing, grouping,
silences and receivers then apply as for any Prometheus alert.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from connectors.notify.notification import Notification
from connectors.notify.payloads import am_alert

ALERTS_PATH = "/api/v2/alerts"


def alerts_url(base_url: str) -> str:
    """The v2 alerts endpoint of an Alertmanager base URL (accepts a full URL too)."""
    base = base_url.rstrip("/")
    return base if base.endswith(ALERTS_PATH) else base + ALERTS_PATH


def alerts_body(notes: list[Notification], *, api_base: str, now_ms: int, ttl_ms: int) -> bytes:
    """The JSON array body for ``POST /api/v2/alerts``."""
    alerts = [am_alert(n, api_base=api_base, now_ms=now_ms, ttl_ms=ttl_ms) for n in notes]
    return json.dumps(alerts, separators=(",", ":")).encode()


@dataclass
class OpenAlerts:
    """Alerts posted and still firing, per endpoint: what the refresher re-posts."""

    refresh_s: float
    _open: dict[tuple[str, str], Notification] = field(default_factory=dict)
    _last: dict[str, float] = field(default_factory=dict)

    def delivered(self, endpoint: str, note: Notification) -> None:
        """Track a delivered notification (a resolution stops the refresh)."""
        if note.firing:
            self._open[(endpoint, note.subject)] = note
            self._last.setdefault(endpoint, time.monotonic())
        else:
            self._open.pop((endpoint, note.subject), None)

    def due(self, now: float | None = None) -> dict[str, list[Notification]]:
        """Endpoint -> firing notifications to re-post now (marks them refreshed)."""
        now = time.monotonic() if now is None else now
        out: dict[str, list[Notification]] = {}
        for (endpoint, _), note in self._open.items():
            if now - self._last.get(endpoint, now - self.refresh_s) >= self.refresh_s:
                out.setdefault(endpoint, []).append(note)
        for endpoint in out:
            self._last[endpoint] = now
        return out

    def count(self) -> int:
        return len(self._open)
