"""Incident members: an anomaly or an alert reduced to what grouping needs.

A member carries its topology keys (``node``, ``namespace``, ``service``, ``pod``,
``gpu``, ``ptp_domain``) derived from its entity and labels with the shared naming
convention: SERVICE ``namespace/service``, POD ``namespace/pod``, NODE ``node``, GPU
``node/uuid``, PTP_CLOCK ``node/iface``, CLUSTER ``name``.

>>> m = from_anomaly({"anomaly_id": "a1", "cluster": "c1", "entity_type": "POD",
...     "entity": "shop/cart-1", "name": "cpu", "labels": {"node": "n1", "service": "cart"},
...     "severity": "HIGH", "start_ts": 5, "type": "SPIKE"})
>>> sorted(m.keys.items())
[('namespace', ['shop']), ('node', ['n1']), ('pod', ['shop/cart-1']), ('service', ['shop/cart'])]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.correlate.severity import alert_severity

GROUP_KEYS = ("node", "namespace", "service", "pod", "gpu", "ptp_domain")
_NODE_LABELS = ("node", "Hostname", "kubernetes_node", "instance_node")
_GPU_LABELS = ("UUID", "uuid", "gpu_uuid", "gpu")
_SERVICE_LABELS = ("service", "app", "app_kubernetes_io_name", "k8s_service", "service_name")
_DOMAIN_LABELS = ("ptp_domain", "domain")


@dataclass
class Member:
    """One anomaly or alert, as the correlator sees it."""

    kind: str
    """``ANOMALY`` or ``ALERT``."""
    member_id: str
    """anomaly_id, or ``fingerprint`` for alerts."""
    cluster: str
    ts: int
    """Event time (ms): anomaly start, alert starts_at (ends_at when resolved)."""
    severity: str
    entity: str
    """``TYPE:identity`` for the incident's entity list."""
    signal: str
    """What fired (metric name and shape, alertname)."""
    keys: dict[str, list[str]] = field(default_factory=dict)
    firing: bool = False
    """Alerts only: True while firing (a firing alert keeps its incident open)."""
    certain: bool = False
    """A deterministic check fired (a ``rule:*`` detector or an alert), not a model: it
    needs no corroboration to open an incident."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (``dataclasses.asdict`` is several times slower: this runs for
        every pending member on every state write)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["keys"] = {k: list(v) for k, v in self.keys.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Member:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def _first(labels: Mapping[str, str], names: tuple[str, ...]) -> str:
    return next((str(labels[n]) for n in names if labels.get(n)), "")


def _qualified(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace and "/" not in name else name


def topology_keys(entity_type: str, entity: str, labels: Mapping[str, str]) -> dict[str, list[str]]:
    """Grouping keys of an entity and its labels (each key: a sorted list of values)."""
    keys: dict[str, set[str]] = {k: set() for k in GROUP_KEYS}
    et = entity_type.upper()
    node, namespace = _first(labels, _NODE_LABELS), str(labels.get("namespace", ""))
    head, _, tail = entity.partition("/")
    if et == "NODE":
        node = node or entity
    elif et in ("GPU", "PTP_CLOCK", "PTP_INTERFACE") and tail:
        node = node or head
    elif et in ("SERVICE", "POD") and tail:
        namespace = namespace or head
    if node:
        keys["node"].add(node)
    if namespace:
        keys["namespace"].add(namespace)
    if et == "SERVICE":
        keys["service"].add(_qualified(namespace, entity))
    elif et == "POD":
        keys["pod"].add(_qualified(namespace, entity))
    elif labels.get("pod"):
        keys["pod"].add(_qualified(namespace, str(labels["pod"])))
    service = _first(labels, _SERVICE_LABELS)
    if service and et != "EDGE":
        keys["service"].add(_qualified(namespace, service))
    if et == "EDGE":
        src = labels.get("source") or labels.get("caller") or ""
        dst = labels.get("target") or labels.get("callee") or ""
        if not (src and dst) and "->" in entity:
            src, dst = entity.split("->", 1)
        keys["service"].update(_qualified(namespace, s) for s in (src, dst) if s)
    if et == "GPU":
        keys["gpu"].add(entity)
    elif _first(labels, _GPU_LABELS):
        keys["gpu"].add(f"{node}/{_first(labels, _GPU_LABELS)}")
    domain = _first(labels, _DOMAIN_LABELS)
    if domain and (et in ("PTP_CLOCK", "PTP_INTERFACE") or "ptp" in str(labels).lower()):
        keys["ptp_domain"].add(domain)
    return {k: sorted(v) for k, v in keys.items() if v}


def from_anomaly(record: Mapping[str, Any]) -> Member:
    """The member for an ``Anomaly`` record."""
    labels = record.get("labels") or {}
    et, entity = str(record["entity_type"]), str(record["entity"])
    return Member(
        kind="ANOMALY", member_id=str(record["anomaly_id"]), cluster=str(record["cluster"]),
        ts=int(record["start_ts"]), severity=str(record.get("severity") or "INFO"),
        entity=f"{et.upper()}:{entity}",
        signal=f"{record['name']} {record.get('type', '')}".strip(),
        keys=topology_keys(et, entity, labels),
        certain=str(record.get("detector") or "").startswith("rule:"),
    )


def alert_entity(labels: Mapping[str, str], keys: dict[str, list[str]], cluster: str) -> str:
    """``TYPE:identity`` an alert is about: its pod, GPU, service, PTP port or node."""
    for key, etype in (("pod", "POD"), ("gpu", "GPU"), ("service", "SERVICE")):
        if keys.get(key):
            return f"{etype}:{keys[key][0]}"
    if keys.get("node") and labels.get("iface"):  # a PTP port alert (ptp-operator labels)
        return f"PTP_CLOCK:{keys['node'][0]}/{labels['iface']}"
    if keys.get("node"):
        return f"NODE:{keys['node'][0]}"
    if labels.get("namespace"):
        return f"NAMESPACE:{labels['namespace']}"
    return f"CLUSTER:{cluster}"


def from_alert(record: Mapping[str, Any]) -> Member:
    """The member for an ``Alert`` record (firing or resolved)."""
    labels = record.get("labels") or {}
    firing = str(record["status"]).upper() == "FIRING"
    ts = int(record["starts_at"]) if firing or not record.get("ends_at") else int(record["ends_at"])
    keys = topology_keys("SERIES", "", labels)
    return Member(
        kind="ALERT", member_id=str(record["fingerprint"]), cluster=str(record["cluster"]),
        ts=ts, severity=alert_severity(str(record.get("severity") or "")),
        entity=alert_entity(labels, keys, str(record["cluster"])),
        signal=str(record["alertname"]), keys=keys, firing=firing, certain=True,
    )
