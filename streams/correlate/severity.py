"""Severity ladder shared by anomalies and incidents; an incident's severity from its members.

>>> incident_severity(["LOW", "HIGH"], entities=2)
'HIGH'
>>> incident_severity(["HIGH", "MEDIUM"], entities=5, escalate_entities=5)
'CRITICAL'
>>> alert_severity("warning")
'MEDIUM'
"""

from __future__ import annotations

from collections.abc import Iterable

LADDER = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")
_ALERT = {
    "critical": "CRITICAL", "page": "CRITICAL", "error": "HIGH", "high": "HIGH",
    "major": "HIGH", "warning": "MEDIUM", "warn": "MEDIUM", "medium": "MEDIUM",
    "minor": "LOW", "low": "LOW", "info": "INFO", "none": "INFO",
}


def rank_of(severity: str) -> int:
    """Position on the ladder (unknown names count as INFO)."""
    return LADDER.index(severity) if severity in LADDER else 0


def alert_severity(label: str) -> str:
    """An Alertmanager ``severity`` label on our ladder (absent or unknown: MEDIUM)."""
    return _ALERT.get(label.strip().lower(), "MEDIUM")


def incident_severity(members: Iterable[str], entities: int, escalate_entities: int = 5) -> str:
    """The highest member severity, one step higher when the blast radius reaches
    ``escalate_entities`` distinct entities (0 disables escalation)."""
    top = max((rank_of(s) for s in members), default=0)
    if escalate_entities and entities >= escalate_entities and top >= rank_of("MEDIUM"):
        top = min(top + 1, len(LADDER) - 1)
    return LADDER[top]
