"""Bodies of notifications: Alertmanager v2 alerts and v4 webhooks, generic JSON, Slack text.

The Alertmanager shapes follow the upstream documentation (alert ``labels``,
``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``; webhook ``version: "4"``
with ``groupKey``, ``status``, ``receiver``, ``groupLabels``, ``commonLabels``,
``commonAnnotations``, ``externalURL`` and ``alerts``), so any receiver of Alertmanager
webhooks accepts them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from connectors.notify.notification import Notification

ALERTNAME = {"incident": "AIOpsIncident", "anomaly": "AIOpsAnomaly"}
API_PREFIX = "/api/v1"


def rfc3339(ms: int) -> str:
    """Epoch milliseconds as RFC 3339 UTC with milliseconds."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def links(note: Notification, api_base: str) -> dict[str, str]:
    """API links for the subject (empty without an API base URL)."""
    if not api_base:
        return {}
    base = api_base.rstrip("/") + API_PREFIX
    kind, _, ident = note.subject.partition(":")
    if kind == "incident":
        return {"incident_url": f"{base}/incidents/{ident}"}
    return {"anomaly_url": f"{base}/anomalies/{ident}"}


def alert_labels(note: Notification) -> dict[str, str]:
    """Alertmanager labels: alertname, cluster, namespace, service, severity (+ ids)."""
    kind = note.subject.partition(":")[0]
    labels = {"alertname": ALERTNAME.get(kind, "AIOps"), "cluster": note.cluster,
              "namespace": note.namespace, "service": note.service,
              "severity": note.severity.lower()}
    for key in ("incident_id", "anomaly_id"):
        if note.labels.get(key):
            labels[key] = note.labels[key]
    return {k: v for k, v in labels.items() if v}


def alert_annotations(note: Notification, api_base: str) -> dict[str, str]:
    """Alertmanager annotations: summary, description, probable cause, runbook, links."""
    out = {"summary": note.title, "description": note.summary,
           "probable_cause": note.probable_cause,
           "runbook": "\n".join(f"{i}. {s}" for i, s in enumerate(note.remediation, 1)),
           **links(note, api_base)}
    return {k: v for k, v in out.items() if v}


def am_alert(note: Notification, *, api_base: str, now_ms: int, ttl_ms: int) -> dict[str, Any]:
    """One alert for Alertmanager's ``POST /api/v2/alerts``.

    A firing alert ends ``ttl_ms`` from now (refreshed while open); a resolved one ends
    at its resolution time, which makes Alertmanager resolve it.
    """
    ends = (note.ends_ts or now_ms) if not note.firing else now_ms + ttl_ms
    return {"labels": alert_labels(note), "annotations": alert_annotations(note, api_base),
            "startsAt": rfc3339(note.starts_ts), "endsAt": rfc3339(ends),
            "generatorURL": links(note, api_base).get("incident_url", "")
            or links(note, api_base).get("anomaly_url", "")}


def alert_fingerprint(labels: dict[str, str]) -> str:
    """A stable 16-hex fingerprint of a label set."""
    text = "\xff".join(f"{k}\xfe{labels[k]}" for k in sorted(labels))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def alertmanager_webhook(notes: list[Notification], *, receiver: str, group_key: str,
                         api_base: str, now_ms: int) -> dict[str, Any]:
    """An Alertmanager v4 webhook body holding ``notes`` as alerts."""
    alerts = []
    for note in notes:
        labels = alert_labels(note)
        alerts.append({
            "status": "firing" if note.firing else "resolved", "labels": labels,
            "annotations": alert_annotations(note, api_base),
            "startsAt": rfc3339(note.starts_ts),
            "endsAt": rfc3339(note.ends_ts or now_ms) if not note.firing
            else "0001-01-01T00:00:00Z",
            "generatorURL": next(iter(links(note, api_base).values()), ""),
            "fingerprint": alert_fingerprint(labels),
        })
    common_labels = _common([a["labels"] for a in alerts])
    return {
        "version": "4", "groupKey": group_key, "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": receiver, "groupLabels": {k: v for k, v in common_labels.items()
                                              if k in ("cluster", "alertname")},
        "commonLabels": common_labels,
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": api_base, "notification_reason": "aiops_notify", "alerts": alerts,
    }


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    return {k: v for k, v in maps[0].items() if all(m.get(k) == v for m in maps[1:])}


def generic(note: Notification, *, key: str, api_base: str) -> dict[str, Any]:
    """The generic JSON body: the full notification with its incident and RCA."""
    body = asdict(note)
    body.update({"idempotency_key": key, "links": links(note, api_base),
                 "firing": note.firing, "schema": "aiops.notification.v1"})
    return body


def slack(note: Notification, *, api_base: str) -> dict[str, Any]:
    """A Slack incoming-webhook body (``text`` with mrkdwn)."""
    icon = ":large_green_circle:" if not note.firing else (
        ":red_circle:" if note.severity in ("HIGH", "CRITICAL") else ":large_orange_circle:")
    lines = [f"{icon} *[{note.event}] {note.severity}* {note.title}",
             f"cluster `{note.cluster}`" + (f" namespace `{note.namespace}`"
                                            if note.namespace else "")
             + (f" service `{note.service}`" if note.service else "")]
    if note.summary:
        lines.append(note.summary)
    if note.probable_cause:
        lines.append(f"*Probable cause:* {note.probable_cause}")
    if note.remediation:
        lines.append("*Remediation:*\n" + "\n".join(f"{i}. {s}" for i, s in
                                                    enumerate(note.remediation, 1)))
    for name, url in links(note, api_base).items():
        lines.append(f"<{url}|{name.replace('_url', '')}>")
    return {"text": "\n".join(lines)}


def render(fmt: str, notes: list[Notification], *, key: str, receiver: str, group_key: str,
           api_base: str, now_ms: int) -> bytes:
    """The request body for a webhook endpoint of format ``fmt``."""
    if fmt == "alertmanager":
        doc: Any = alertmanager_webhook(notes, receiver=receiver, group_key=group_key,
                                        api_base=api_base, now_ms=now_ms)
    elif fmt == "slack":
        doc = slack(notes[0], api_base=api_base)
    else:
        doc = generic(notes[0], key=key, api_base=api_base)
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
