"""Candidate entities of an incident: services, pods, nodes, GPUs, PTP clocks, deployments.

Every anomaly names the entities it is evidence for: its own entity (from ``entity_type``
and ``entity``, or for plain SERIES anomalies from its labels) plus roll-ups (a pod's
signals also speak for its service).  Graph neighbours of anomalous services are
candidates too, so a quiet callee can still be blamed through its edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.rca.context import IncidentContext
from streams.rca.evidence import Signal, signal_of

#: Tie-break between equal scores: the more specific entity first.
TYPE_ORDER = ("GPU", "PTP_CLOCK", "POD", "DEPLOYMENT", "SERVICE", "NODE", "CLUSTER")

_SERVICE_KEYS = ("service", "app", "app_kubernetes_io_name", "k8s_service", "service_name")
_GPU_KEYS = ("gpu_uuid", "UUID", "uuid", "gpu")
_IFACE_KEYS = ("iface", "interface", "ptp_interface")
#: Entity types of a PTP clock port ``node/iface``: the simulator's series say PTP_INTERFACE,
#: the detect worker's anomalies PTP_CLOCK (the entity convention's name).
_PTP_TYPES = ("PTP_INTERFACE", "PTP_CLOCK")


@dataclass(frozen=True, order=True)
class EntityRef:
    """A candidate root cause: ``entity_type`` as in ``RankedCause`` and its identity."""

    entity_type: str
    entity: str

    @property
    def key(self) -> str:
        return f"{self.entity_type}:{self.entity}"


def _ns(labels: dict[str, str], name: str) -> str:
    ns = labels.get("namespace", "")
    return f"{ns}/{name}" if ns and "/" not in name else name


def service_of(labels: dict[str, str]) -> str | None:
    """The service an entity's labels name (``namespace/service`` when namespaced)."""
    for k in _SERVICE_KEYS:
        if labels.get(k):
            return _ns(labels, labels[k])
    return None


def edge_endpoints(anomaly: dict[str, Any]) -> tuple[str, str] | None:
    """Caller and callee of an EDGE anomaly (labels ``source``/``target`` or entity ``a->b``)."""
    labels = anomaly.get("labels") or {}
    src = labels.get("source") or labels.get("caller")
    dst = labels.get("target") or labels.get("callee")
    if not (src and dst) and "->" in str(anomaly.get("entity", "")):
        src, dst = str(anomaly["entity"]).split("->", 1)
    if not (src and dst):
        return None
    return _ns(labels, src), _ns(labels, dst)


def entities_of(anomaly: dict[str, Any]) -> list[EntityRef]:
    """The candidate entities one anomaly is direct evidence for (EDGE anomalies: none)."""
    et = str(anomaly.get("entity_type", "SERIES")).upper()
    entity = str(anomaly.get("entity", ""))
    labels: dict[str, str] = anomaly.get("labels") or {}
    sig = signal_of(anomaly)
    out: list[EntityRef] = []
    if et == "EDGE":
        return out
    if et == "GPU":
        out.append(EntityRef("GPU", entity))
    elif et in _PTP_TYPES or (et == "SERIES" and sig is Signal.PTP
                              and any(labels.get(k) for k in _IFACE_KEYS)):
        if et not in _PTP_TYPES:
            iface = next(labels[k] for k in _IFACE_KEYS if labels.get(k))
            entity = f"{labels.get('node', '')}/{iface}"
        out.append(EntityRef("PTP_CLOCK", entity))
    elif et == "NODE":
        out.append(EntityRef("NODE", entity))
    elif et == "CLUSTER":
        out.append(EntityRef("CLUSTER", entity))
    elif et == "DEPLOYMENT":
        out.append(EntityRef("DEPLOYMENT", entity))
    elif et == "SERVICE":
        out.append(EntityRef("SERVICE", entity))
    elif et == "POD" or labels.get("pod"):
        out.append(EntityRef("POD", entity if et == "POD" else _ns(labels, labels["pod"])))
    elif et == "SERIES" and sig in (Signal.GPU, Signal.GPU_XID) and any(
        labels.get(k) for k in _GPU_KEYS
    ):
        out.append(EntityRef("GPU", next(labels[k] for k in _GPU_KEYS if labels.get(k))))
    elif labels.get("deployment"):
        out.append(EntityRef("DEPLOYMENT", _ns(labels, labels["deployment"])))
    elif service_of(labels):
        pass
    elif labels.get("node"):
        out.append(EntityRef("NODE", labels["node"]))
    svc = service_of(labels)
    if svc and et not in ("SERVICE", "GPU", *_PTP_TYPES, "NODE", "CLUSTER"):
        out.append(EntityRef("SERVICE", svc))
    if sig is Signal.CHANGE and labels.get("deployment") and et != "DEPLOYMENT":
        out.append(EntityRef("DEPLOYMENT", _ns(labels, labels["deployment"])))
    return list(dict.fromkeys(out))


def collect(ctx: IncidentContext) -> dict[EntityRef, list[dict[str, Any]]]:
    """Every candidate with the anomalies that are direct evidence for it.

    Services on the dependency edges and log/trace entities are candidates even with no
    anomaly of their own.
    """
    out: dict[EntityRef, list[dict[str, Any]]] = {}
    for a in ctx.anomalies:
        for ref in entities_of(a):
            out.setdefault(ref, []).append(a)
        ends = edge_endpoints(a) if str(a.get("entity_type", "")).upper() == "EDGE" else None
        for svc in ends or ():
            out.setdefault(EntityRef("SERVICE", svc), [])
    for e in ctx.edges:
        out.setdefault(EntityRef("SERVICE", e.caller), [])
        out.setdefault(EntityRef("SERVICE", e.callee), [])
    for ev in ctx.log_events:
        out.setdefault(EntityRef(ev.entity_type.upper(), ev.entity), [])
    return out
