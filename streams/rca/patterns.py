"""Known causal patterns: a cause signal followed by its typical effect on related entities.

* ``gpu_xid_crash``: a GPU XID error, then a crash/restart/errors of a workload on that GPU
  (same GPU, pod or node).
* ``ptp_freerun_du``: a PTP clock falling to FREERUN, then DU errors on the same node (or
  on a DU service whose series carry no node).
* ``ptp_port_system_clock``: a PTP port's clock state or class leaving lock (FREERUN,
  HOLDOVER), then the offset of its node's system clock (``CLOCK_REALTIME``, which
  phc2sys steers from the port's PHC): the port is the cause, the system clock follows.
* ``oomkill_restarts``: an OOMKill of a pod, then restarts of the same pod.
* ``deployment_change_errors``: a deployment change (rollout, new image or config), then
  errors on that deployment's pods or service.

A match needs the effect to start no earlier than ``slack_ms`` before the cause and no
later than ``window_ms`` after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.rca.candidates import EntityRef, entities_of, service_of
from streams.rca.evidence import Signal, anomaly_evidence, evidence, magnitude, signal_of

Anomaly = dict[str, Any]


@dataclass
class PatternMatch:
    """A pattern that fired, the entity it blames and the anomalies on both sides."""

    pattern: str
    cause: EntityRef
    cause_anomaly: Anomaly
    effects: list[Anomaly] = field(default_factory=list)

    @property
    def strength(self) -> float:
        """Magnitude of the cause plus the strongest effect."""
        return magnitude(self.cause_anomaly) + max((magnitude(e) for e in self.effects),
                                                   default=0.0)

    def records(self) -> list[dict[str, Any]]:
        """Evidence records: the RULE itself, then cause and effect anomalies."""
        onset = int(self.cause_anomaly["start_ts"])
        effects = ", ".join(sorted({str(e["entity"]) for e in self.effects}))
        rule = evidence("RULE", self.pattern,
                        f"{self.pattern}: {self.cause.key} then effects on {effects}",
                        onset, self.strength)
        return [rule, anomaly_evidence(self.cause_anomaly),
                *(anomaly_evidence(e) for e in self.effects)]


def _text(a: Anomaly) -> str:
    labels = a.get("labels") or {}
    parts = [a.get("name"), a.get("rule"), a.get("detector"), *labels.values()]
    return " ".join(str(p) for p in parts if p).lower()


def _pod(a: Anomaly) -> str:
    labels = a.get("labels") or {}
    if labels.get("pod"):
        return str(labels["pod"])
    return str(a["entity"]).rsplit("/", 1)[-1] if a.get("entity_type") == "POD" else ""


def _same(a: Anomaly, b: Anomaly, key: str) -> bool:
    va, vb = (a.get("labels") or {}).get(key), (b.get("labels") or {}).get(key)
    return bool(va) and va == vb


def _in_window(cause: Anomaly, effect: Anomaly, slack_ms: int, window_ms: int) -> bool:
    dt = int(effect["start_ts"]) - int(cause["start_ts"])
    return -slack_ms <= dt <= window_ms


def _ref(a: Anomaly, entity_type: str, fallback: str) -> EntityRef:
    for ref in entities_of(a):
        if ref.entity_type == entity_type:
            return ref
    return EntityRef(entity_type, fallback)


def _gpu_xid(a: Anomaly, sig: Signal) -> EntityRef | None:
    if sig is not Signal.GPU_XID:
        return None
    labels = a.get("labels") or {}
    gpu = labels.get("gpu_uuid") or labels.get("UUID") or labels.get("gpu") or a["entity"]
    return _ref(a, "GPU", str(gpu))


def _gpu_effect(cause: Anomaly, e: Anomaly, sig: Signal) -> bool:
    if sig not in (Signal.RESTART, Signal.ERRORS, Signal.OOM) or e is cause:
        return False
    return (_same(cause, e, "gpu_uuid") or _same(cause, e, "UUID") or
            (bool(_pod(cause)) and _pod(cause) == _pod(e)) or _same(cause, e, "node"))


def _ptp_freerun(a: Anomaly, sig: Signal) -> EntityRef | None:
    if sig is not Signal.PTP:
        return None
    text, actual = _text(a), float(a.get("actual", -1))
    # openshift_ptp_clock_state 0 = FREERUN; clock class 248 = free-running default.
    freerun = ("freerun" in text or ("clock_state" in text and actual == 0)
               or ("clock_class" in text and actual >= 248))
    if not freerun:
        return None
    return _ref(a, "PTP_CLOCK", str(a["entity"]))


_DU = re.compile(r"(^|[-_/])v?du([-_]|$)")


def _du_effect(cause: Anomaly, e: Anomaly, sig: Signal) -> bool:
    """Errors on the clock's node, or on a DU workload (``du``/``vdu`` named) not tied to
    a node (service-level series)."""
    if sig is not Signal.ERRORS:
        return False
    if _same(cause, e, "node"):
        return True
    labels = e.get("labels") or {}
    names = [str(e.get("entity", "")), *(str(labels.get(k, "")) for k in ("service", "app", "pod"))]
    return not labels.get("node") and any(_DU.search(n) for n in names)


SYSTEM_CLOCK = "CLOCK_REALTIME"  # phc2sys's iface: the node's system clock


def _ptp_port_unlocked(a: Anomaly, sig: Signal) -> EntityRef | None:
    """A port (not the system clock) whose clock state or clock class moved."""
    node, _, iface = str(a["entity"]).rpartition("/")
    if sig is not Signal.PTP or not node or iface == SYSTEM_CLOCK:
        return None
    text = _text(a)
    locked = "clock_state" in text and float(a.get("actual", -1)) == 1.0  # 1 = LOCKED
    if locked or ("clock_state" not in text and "clock_class" not in text):
        return None
    return _ref(a, "PTP_CLOCK", str(a["entity"]))


def _system_clock_effect(cause: Anomaly, e: Anomaly, sig: Signal) -> bool:
    node, _, iface = str(e["entity"]).rpartition("/")
    return (sig is Signal.PTP and iface == SYSTEM_CLOCK
            and node == str(cause["entity"]).rpartition("/")[0])


def _oomkill(a: Anomaly, sig: Signal) -> EntityRef | None:
    if sig is not Signal.OOM or not _pod(a):
        return None
    return _ref(a, "POD", _pod(a))


def _restart_effect(cause: Anomaly, e: Anomaly, sig: Signal) -> bool:
    return sig is Signal.RESTART and _pod(e) == _pod(cause)


def _deploy_name(a: Anomaly) -> str:
    labels = a.get("labels") or {}
    if a.get("entity_type") == "DEPLOYMENT":
        return str(a["entity"]).rsplit("/", 1)[-1]
    return str(labels.get("deployment") or "")


def _deployment_change(a: Anomaly, sig: Signal) -> EntityRef | None:
    if sig is not Signal.CHANGE or not _deploy_name(a):
        return None
    return _ref(a, "DEPLOYMENT", _deploy_name(a))


def _deploy_effect(cause: Anomaly, e: Anomaly, sig: Signal) -> bool:
    if sig is not Signal.ERRORS:
        return False
    name = _deploy_name(cause)
    labels = e.get("labels") or {}
    svc = (service_of({k: v for k, v in labels.items() if k != "namespace"}) or "")
    return (labels.get("deployment") == name or svc == name
            or _pod(e).startswith(name + "-"))


Matcher = tuple[str, Callable[[Anomaly, Signal], EntityRef | None],
                Callable[[Anomaly, Anomaly, Signal], bool]]

PATTERNS: tuple[Matcher, ...] = (
    ("gpu_xid_crash", _gpu_xid, _gpu_effect),
    ("ptp_freerun_du", _ptp_freerun, _du_effect),
    ("ptp_port_system_clock", _ptp_port_unlocked, _system_clock_effect),
    ("oomkill_restarts", _oomkill, _restart_effect),
    ("deployment_change_errors", _deployment_change, _deploy_effect),
)


def match(anomalies: Iterable[Anomaly], slack_ms: int = 60_000,
          window_ms: int = 1_800_000) -> list[PatternMatch]:
    """Every pattern match among the anomalies, in a deterministic order."""
    items = sorted(((a, signal_of(a)) for a in anomalies),
                   key=lambda t: (int(t[0]["start_ts"]), str(t[0]["anomaly_id"])))
    out: list[PatternMatch] = []
    for name, is_cause, is_effect in PATTERNS:
        for a, sig in items:
            cause = is_cause(a, sig)
            if cause is None:
                continue
            effects = [e for e, s in items if e is not a and is_effect(a, e, s)
                       and _in_window(a, e, slack_ms, window_ms)]
            if effects:
                out.append(PatternMatch(name, cause, a, effects))
    return out
