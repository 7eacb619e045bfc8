"""Alertmanager-style alerts raised by the simulated fleet's faults.

A fault fires the alert a real OpenShift rule would fire (e.g. ``NodeFilesystemSpaceFillingUp``
for disk pressure) when it starts and resolves it when it ends. A dark cluster raises none: its
Alertmanager is as silent as its scraper.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from streams.simulator.faults import Fault

ALERTS: dict[str, tuple[str, str, str]] = {
    "cpu_saturation": ("CPUThrottlingHigh", "warning", "Processes experience elevated CPU "
                       "throttling."),
    "memory_leak": ("KubePodCrashLooping", "warning", "Pod is restarting (OOMKilled)."),
    "disk_pressure": ("NodeFilesystemSpaceFillingUp", "critical", "Filesystem is predicted to "
                      "run out of space soon."),
    "network_delay": ("ServiceLatencyHigh", "warning", "p99 latency above objective."),
    "packet_loss": ("ServiceErrorRateHigh", "warning", "Error ratio above objective."),
    "bad_deployment": ("ServiceErrorRateHigh", "critical", "Error ratio above objective."),
    "dependency_slowdown": ("ServiceLatencyHigh", "warning", "p99 latency above objective."),
    "gpu_thermal_throttle": ("GPUThermalThrottling", "warning", "GPU clocks throttled by "
                             "temperature."),
    "gpu_xid_error": ("GPUXidError", "critical", "GPU reported an XID error."),
    "gpu_ecc_dbe": ("GPUEccDoubleBitErrors", "critical", "Uncorrectable ECC errors on the GPU."),
    "ptp_freerun": ("PtpClockNotLocked", "critical", "PTP clock is not LOCKED."),
}


def _labels(f: Fault) -> dict[str, str]:
    name, severity, _ = ALERTS[f.kind]
    labels = {"alertname": name, "severity": severity, "cluster": f.cluster,
              "prometheus": "openshift-monitoring/k8s"}
    rc = f.root_cause
    if f.root_cause_type == "POD":
        labels["namespace"], labels["pod"] = rc.split("/", 1)
    elif f.root_cause_type == "SERVICE":
        labels["namespace"], labels["service"] = rc.split("/", 1)
    elif f.root_cause_type == "NODE":
        labels["node"] = rc
    elif f.root_cause_type == "GPU":
        labels["Hostname"], labels["UUID"] = rc.split("/", 1)
    elif f.root_cause_type == "PTP_CLOCK":
        labels["node"], labels["iface"] = rc.split("/", 1)
    return labels


def _rfc3339(ms: int | None) -> str:
    if ms is None:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def webhook_alert(f: Fault, resolved: bool) -> dict:
    """One alert in Alertmanager webhook (v4) form."""
    labels = _labels(f)
    fp = hashlib.blake2b(repr(sorted(labels.items())).encode(), digest_size=8).hexdigest()
    return {"status": "resolved" if resolved else "firing", "labels": labels,
            "annotations": {"summary": ALERTS[f.kind][2],
                            "description": f"{f.kind} on {f.root_cause} ({f.cluster})"},
            "startsAt": _rfc3339(f.start_ts), "endsAt": _rfc3339(f.end_ts if resolved else None),
            "generatorURL": f"https://console.{f.cluster}.example/monitoring/alerts",
            "fingerprint": fp}


def webhook_payload(alerts: list[dict], receiver: str = "aiops") -> dict:
    """The webhook v4 body Alertmanager POSTs for a group of alerts."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    common = dict(set.intersection(*(set(a["labels"].items()) for a in alerts))) if alerts else {}
    return {"version": "4", "groupKey": "{}:{alertname=\"" + common.get("alertname", "") + "\"}",
            "truncatedAlerts": 0, "status": status, "receiver": receiver,
            "groupLabels": {k: v for k, v in common.items() if k == "alertname"},
            "commonLabels": common, "commonAnnotations": {},
            "externalURL": "http://alertmanager.simulator.local", "alerts": alerts}


def alert_record(alert: dict, cluster: str, received_ts: int, receiver: str = "aiops") -> dict:
    """The Avro Alert record (aiops.alerts) for a webhook alert."""
    def ms(text: str) -> int | None:
        if text.startswith("0001-"):
            return None
        return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=UTC).timestamp() * 1000)
    labels = alert["labels"]
    return {"fingerprint": alert["fingerprint"], "cluster": cluster,
            "status": alert["status"].upper(), "alertname": labels["alertname"],
            "severity": labels.get("severity", ""), "labels": labels,
            "annotations": alert["annotations"], "starts_at": ms(alert["startsAt"]) or 0,
            "ends_at": ms(alert["endsAt"]), "generator_url": alert["generatorURL"],
            "receiver": receiver, "group_key": f"{{}}:{{alertname=\"{labels['alertname']}\"}}",
            "received_ts": received_ts}


class AlertTracker:
    """Turns per-tick fault activity into firing/resolved transitions (once each)."""

    def __init__(self) -> None:
        self.firing: set[str] = set()

    def transitions(self, faults: list[Fault], ts: int) -> list[dict]:
        out = []
        for f in faults:
            if f.kind not in ALERTS:
                continue
            if f.active(ts) and f.fault_id not in self.firing:
                self.firing.add(f.fault_id)
                out.append(webhook_alert(f, resolved=False))
            elif not f.active(ts) and f.fault_id in self.firing:
                self.firing.discard(f.fault_id)
                out.append(webhook_alert(f, resolved=True))
        return out
