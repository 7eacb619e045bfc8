"""Alertmanager webhook receiver (payload version 4) -> ``aiops.alerts``.

Each alert of a notification becomes one ``Alert`` record keyed by its fingerprint,
so the firing and the resolved record of one alert stay in order on one partition.
A firing alert has ``ends_at`` null; a resolved one carries its ``endsAt``. When a
sender omits ``fingerprint`` it is computed as Alertmanager does (FNV-1a 64 over the
sorted label pairs).

>>> parse_time("2026-11-26T09:40:00.123456789Z")
1795686000123
>>> fingerprint({"alertname": "Up"}) == fingerprint({"alertname": "Up"})
True
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from connectors.receivers.base import Delivery, Outgoing, PayloadError
from schemas.codec import Codec
from schemas.errors import CodecError

ALERTS_TOPIC = "aiops.alerts"
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})$")
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211


def parse_time(text: str) -> int:
    """RFC 3339 (any fraction digits) -> Unix milliseconds."""
    m = _RFC3339.match(text.strip())
    if m is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(x) for x in m.groups()[:6])
    frac, zone = m.group(7) or "0", m.group(8)
    tz = UTC
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    base = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    millis = int((frac + "000")[:3])
    return int(base.timestamp()) * 1000 + millis


def is_zero_time(text: str | None) -> bool:
    """Go's zero time (``0001-01-01T00:00:00Z``) or absent."""
    return not text or text.startswith("0001-01-01")


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager/Prometheus ``LabelSet.Fingerprint()`` as 16 hex digits."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in part:
                h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def _str_map(obj: Any, what: str) -> dict[str, str]:
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise PayloadError(f"{what} must be an object")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in obj.items()}


def alert_records(doc: Any, *, default_cluster: str, now_ms: int) -> list[dict[str, Any]]:
    """Alert records of one webhook notification (validated)."""
    if not isinstance(doc, dict):
        raise PayloadError("webhook body must be a JSON object")
    if str(doc.get("version", "")) != "4":
        raise PayloadError(f"unsupported webhook version {doc.get('version')!r} (need \"4\")")
    alerts = doc.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError('"alerts" must be a list')
    receiver = str(doc.get("receiver", ""))
    group_key = str(doc.get("groupKey", ""))
    out = []
    for i, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            raise PayloadError(f"alerts[{i}] must be an object")
        labels = _str_map(alert.get("labels"), f"alerts[{i}].labels")
        status = str(alert.get("status", doc.get("status", ""))).upper()
        if status not in ("FIRING", "RESOLVED"):
            raise PayloadError(f"alerts[{i}].status must be firing or resolved")
        try:
            starts = parse_time(str(alert.get("startsAt", "")))
            ends_text = alert.get("endsAt")
            ends = (parse_time(str(ends_text))
                    if status == "RESOLVED" and not is_zero_time(ends_text) else None)
        except ValueError as exc:
            raise PayloadError(f"alerts[{i}]: {exc}") from exc
        out.append({
            "fingerprint": str(alert.get("fingerprint") or fingerprint(labels)),
            "cluster": labels.get("cluster") or default_cluster,
            "status": status,
            "alertname": labels.get("alertname", ""),
            "severity": labels.get("severity", ""),
            "labels": labels,
            "annotations": _str_map(alert.get("annotations"), f"alerts[{i}].annotations"),
            "starts_at": starts,
            "ends_at": ends,
            "generator_url": str(alert.get("generatorURL", "")),
            "receiver": receiver,
            "group_key": group_key,
            "received_ts": now_ms,
        })
    return out


class AlertmanagerReceiver:
    """Webhook notifications -> one ``Alert`` record per alert."""

    source = "alertmanager"

    def __init__(self, delivery: Delivery, *, default_cluster: str) -> None:
        self.delivery = delivery
        self.default_cluster = default_cluster
        self.codec = Codec("alert")

    def notify(self, body: bytes, content_type: str) -> int:
        """Validate, encode and deliver one notification; returns alerts published."""
        metrics = self.delivery.metrics
        try:
            if content_type not in ("application/json", ""):
                raise PayloadError(f"unsupported Content-Type {content_type!r} "
                                   "(application/json)", 415, "bad_content_type")
            try:
                doc = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise PayloadError(f"invalid JSON: {exc}") from exc
            alerts = alert_records(doc, default_cluster=self.default_cluster,
                                   now_ms=int(time.time() * 1000))
            metrics.received.labels(self.source, "alerts").inc(len(alerts))
            records = [Outgoing(ALERTS_TOPIC, a["fingerprint"].encode(), self.codec.encode(a), 1)
                       for a in alerts]
        except CodecError as exc:
            metrics.errors.labels(self.source, "invalid_values").inc()
            raise PayloadError(f"alert does not fit our schema: {exc}") from exc
        except PayloadError as exc:
            metrics.errors.labels(self.source, exc.kind).inc()
            raise
        return self.delivery.deliver(self.source, "alerts", records)
