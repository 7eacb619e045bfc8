"""Anomaly records: entity attribution, severity, confidence and a deterministic id.

Entity convention (shared with the simulator and the RCA): SERVICE ``namespace/service``,
POD ``namespace/pod``, DEPLOYMENT ``namespace/deployment`` (kube-state rollout series),
NODE ``node``, GPU ``node/uuid``, PTP_CLOCK ``node/iface``, CLUSTER ``name``, and EDGE
``namespace/caller->namespace/callee`` for a call edge (labels ``caller`` and ``callee``,
with ``caller_namespace`` and ``namespace``; its anomalies also get ``source`` and
``target`` labels, the qualified endpoints).  The most specific entity the labels name wins.

>>> entity_of("c1", {"namespace": "shop", "pod": "cart-1", "node": "n1"})
('POD', 'shop/cart-1')
>>> entity_of("c1", {"Hostname": "n1", "UUID": "GPU-1"})
('GPU', 'n1/GPU-1')
>>> entity_of("c1", {"namespace": "shop", "deployment": "payment"})
('DEPLOYMENT', 'shop/payment')
>>> entity_of("c1", {"node": "n1", "iface": "ens5f0", "process": "ptp4l"})
('PTP_CLOCK', 'n1/ens5f0')
>>> entity_of("c1", {"namespace": "shop", "pod": "cart-1", "interface": "eth0", "node": "n1"})
('POD', 'shop/cart-1')
>>> entity_of("c1", {"caller": "front", "callee": "cart", "caller_namespace": "web",
...                  "namespace": "shop", "service": "cart"})
('EDGE', 'web/front->shop/cart')
>>> anomaly_id("ewma", "c1", 42, 1000) == anomaly_id("ewma", "c1", 42, 1000)
True
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

from streams.detectors.base import z_to_score

GPU_KEYS = ("UUID", "uuid", "gpu_uuid")
NODE_KEYS = ("node", "Hostname", "kubernetes_node", "instance_node")


def _first(labels: Mapping[str, str], keys: tuple[str, ...]) -> str | None:
    for k in keys:
        v = labels.get(k)
        if v:
            return v
    return None


def _qualified(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace and "/" not in name else name


def entity_of(cluster: str, labels: Mapping[str, str]) -> tuple[str, str]:
    """(entity_type, entity) for a label set."""
    node = _first(labels, NODE_KEYS)
    gpu = _first(labels, GPU_KEYS)
    if gpu:
        return "GPU", f"{node or ''}/{gpu}"
    iface = labels.get("iface")  # linuxptp's label; NIC counters' `interface` is no PTP port
    if iface and node:
        return "PTP_CLOCK", f"{node}/{iface}"
    ns = labels.get("namespace")
    caller, callee = labels.get("caller"), labels.get("callee")
    if caller and callee:
        cns = labels.get("caller_namespace") or ns or ""
        return "EDGE", f"{_qualified(cns, caller)}->{_qualified(ns or '', callee)}"
    if ns and labels.get("pod"):
        return "POD", f"{ns}/{labels['pod']}"
    if ns and labels.get("deployment"):
        return "DEPLOYMENT", f"{ns}/{labels['deployment']}"
    if ns and labels.get("service"):
        return "SERVICE", f"{ns}/{labels['service']}"
    if node:
        return "NODE", node
    return "CLUSTER", cluster


def anomaly_id(detector: str, cluster: str, key: int | str, start_ts: int) -> str:
    """Hash of detector, cluster, series/entity key and episode start (replay-stable)."""
    raw = f"{detector}\x1f{cluster}\x1f{key}\x1f{int(start_ts)}".encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def severity_of(z: float, z_on: float) -> str:
    """Severity ladder from how far past the threshold the evidence is."""
    ratio = z / z_on if z_on > 0 else 0.0
    if ratio >= 4.0:
        return "HIGH"
    if ratio >= 2.0:
        return "MEDIUM"
    return "LOW"


def build(*, cluster: str, name: str, labels: Mapping[str, str], series_id: int, kind: str,
          actual: float, expected: float, lower: float, upper: float, z: float, z_on: float,
          detector: str, start_ts: int, sample_ts: int, rule: str | None = None,
          severity: str | None = None, entity: tuple[str, str] | None = None) -> dict[str, Any]:
    """One Anomaly record (a dict for ``Codec("anomaly")``)."""
    etype, ent = entity or entity_of(cluster, labels)
    out_labels = {str(k): str(v) for k, v in labels.items()}
    out_labels.setdefault("cluster", cluster)
    if etype == "EDGE" and "->" in ent:  # the endpoints, as the correlator and RCA read them
        source, target = ent.split("->", 1)
        out_labels.setdefault("source", source)
        out_labels.setdefault("target", target)
    key: int | str = series_id if series_id else f"{etype}:{ent}:{name}"
    return {
        "anomaly_id": anomaly_id(detector, cluster, key, start_ts),
        "cluster": cluster,
        "entity_type": etype,
        "entity": ent,
        "name": name,
        "labels": out_labels,
        "series_id": int(series_id),
        "type": kind,
        "actual": float(actual),
        "expected": float(expected),
        "lower": float(lower),
        "upper": float(upper),
        "score": float(z),
        "confidence": float(z_to_score(abs(z), z_on / 2.0)) if z_on > 0 else 1.0,
        "severity": severity or severity_of(z, z_on),
        "detector": detector,
        "rule": rule,
        "start_ts": int(start_ts),
        "sample_ts": int(sample_ts),
        "detected_ts": int(time.time() * 1000),
    }
