"""The service a CLIENT/PRODUCER span calls, from its OpenTelemetry peer attributes.

A caller's span names its peer (``peer.service``, or the host in ``server.address`` /
``net.peer.name``), so a call edge can be measured on the caller's partition alone: spans
are keyed by ``cluster/service``, and the callee's spans are usually on another
partition.  Only names that are a service name are taken: a bare host name (the caller's
namespace) or a Kubernetes service DNS name ``name.namespace.svc[.cluster.local]``; IP
addresses and external host names are not services (``None``).

>>> peer_of({"peer.service": "cartservice"}, "shop")
('shop', 'cartservice')
>>> peer_of({"server.address": "redis-cart.shop.svc.cluster.local"}, "web")
('shop', 'redis-cart')
>>> peer_of({"net.peer.name": "currencyservice:7000"}, "shop")
('shop', 'currencyservice')
>>> peer_of({"net.peer.name": "10.0.3.7"}, "shop"), peer_of({"server.address": "example.com"}, "a")
(None, None)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

HOST_KEYS = ("server.address", "net.peer.name")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", re.IGNORECASE)


def peer_of(attributes: Mapping[str, str] | None, namespace: str) -> tuple[str, str] | None:
    """(namespace, service) the span calls, or None when its attributes name no service."""
    if not attributes:
        return None
    explicit = attributes.get("peer.service")
    if explicit:
        return namespace, explicit
    for key in HOST_KEYS:
        raw = str(attributes.get(key) or "")
        if not raw:
            continue
        host = raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw  # name:port (not IPv6)
        parts = host.lower().split(".")
        if not all(_NAME.fullmatch(p) for p in parts) or parts[-1].isdigit():
            return None
        if len(parts) == 1:
            return namespace, parts[0]
        if len(parts) >= 3 and parts[2] == "svc":
            return parts[1], parts[0]
        return None
    return None
