"""One multivariate River model per PTP port (node, interface) from linuxptp-daemon gauges.

The features of a port are its offset from the master, max offset, path delay, frequency
adjustment, clock state and clock class (``openshift_ptp_*``).  They arrive as separate
series; the samples of one scrape (same cluster, node, interface and timestamp) form one
event for the port's HalfSpaceTrees (:class:`~streams.detect.entity_models.EntityModels`).
A reading without an interface label (``clock_class`` on some releases) belongs to the node
and joins every port of that node; ``phc2sys`` (``iface="CLOCK_REALTIME"``) is not a port.
Nanosecond readings enter as ``sign(x) * log10(1 + |x|)``, so one fixed range spans a locked
port (tens of ns) and a free-running one (microseconds and more).

>>> ports = PtpPorts(warmup=5)
>>> def scrape(t, offset, state, cls):
...     lb = {"node": "n1", "iface": "ens1f0", "process": "ptp4l"}
...     return [("c1", "openshift_ptp_offset_ns", lb, offset, t),
...             ("c1", "openshift_ptp_clock_state", lb, state, t),
...             ("c1", "openshift_ptp_clock_class", {"node": "n1"}, cls, t)]
>>> quiet = [a for t in range(200) for a in ports.observe(scrape(t, (-1) ** t * 10, 1.0, 6.0))]
>>> found = ports.observe(scrape(200, 1800.0, 0.0, 248.0))
>>> quiet, [(a["detector"], a["entity_type"], a["entity"]) for a in found]
([], [('hst:ptp', 'PTP_CLOCK', 'n1/ens1f0')])
"""

from __future__ import annotations

import base64
import math
from typing import Any

from streams.detect import anomalies
from streams.detect.entity_models import EntityModels

FEATURES: dict[str, str] = {
    "openshift_ptp_offset_ns": "offset", "openshift_ptp_max_offset_ns": "max_offset",
    "openshift_ptp_delay_ns": "delay", "openshift_ptp_frequency_adjustment_ns": "freq_adjustment",
    "openshift_ptp_clock_state": "clock_state", "openshift_ptp_clock_class": "clock_class",
}
NANOSECONDS = frozenset({"offset", "max_offset", "delay", "freq_adjustment"})
LIMITS: dict[str, tuple[float, float]] = {
    "offset": (-7.0, 7.0), "max_offset": (-7.0, 7.0), "delay": (-7.0, 7.0),
    "freq_adjustment": (-7.0, 7.0), "clock_state": (0.0, 2.0), "clock_class": (0.0, 255.0),
}
NOT_A_PORT = "CLOCK_REALTIME"

Sample = tuple[str, str, dict[str, str], float, int]  # cluster, name, labels, value, ts


def signed_log(x: float) -> float:
    """``sign(x) * log10(1 + |x|)``.

    >>> signed_log(-999.0), signed_log(0.0)
    (-3.0, 0.0)
    """
    return math.copysign(math.log10(1.0 + abs(x)), x)


class PtpPorts:
    """HalfSpaceTrees per PTP port, and the node-level readings that join its events."""

    def __init__(self, **model_kw: Any) -> None:
        self.model_kw = {"warmup": 60, **model_kw}
        self.models = EntityModels(LIMITS, **self.model_kw)
        self.node_features: dict[str, dict[str, float]] = {}  # "cluster/node" -> features

    def observe(self, samples: list[Sample]) -> list[dict[str, Any]]:
        """Fold the PTP samples of one batch in (any order); the anomalies they raise."""
        events: dict[tuple[int, str, str, str], dict[str, float]] = {}
        for cluster, name, labels, value, ts in samples:
            feat = FEATURES.get(name)
            node = labels.get("node", "")
            iface = labels.get("iface") or labels.get("interface") or ""
            if feat is None or not node or value != value or iface == NOT_A_PORT:
                continue
            if not iface:
                self.node_features.setdefault(f"{cluster}/{node}", {})[feat] = float(value)
            else:
                events.setdefault((int(ts), cluster, node, iface), {})[feat] = float(value)
        out = []
        for (ts, cluster, node, iface), own in sorted(events.items()):
            raw = {**self.node_features.get(f"{cluster}/{node}", {}), **own}
            x = {k: signed_log(v) if k in NANOSECONDS else v for k, v in raw.items()}
            score, fire = self.models.observe(f"{cluster}/{node}/{iface}", x, ts)
            if not fire:
                continue
            labels = {"node": node, "iface": iface, **{k: f"{v:g}" for k, v in raw.items()}}
            th = self.models.threshold
            out.append(anomalies.build(
                cluster=cluster, name="ptp_multivariate", labels=labels, series_id=0,
                kind="PATTERN_BREAK", actual=score, expected=th, lower=0.0, upper=th, z=score,
                z_on=th, detector="hst:ptp", start_ts=ts, sample_ts=ts,
                entity=("PTP_CLOCK", f"{node}/{iface}")))
        return out

    def __len__(self) -> int:
        return len(self.models)

    # -- checkpoints ----------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """JSON-able state: the models (their own compact format) and node readings."""
        return {"models": base64.b64encode(self.models.to_bytes()).decode(),
                "nodes": self.node_features}

    @classmethod
    def from_state(cls, state: dict[str, Any], **model_kw: Any) -> PtpPorts:
        ports = cls(**model_kw)
        ports.models = EntityModels.from_bytes(base64.b64decode(state["models"]), LIMITS,
                                               **ports.model_kw)
        ports.node_features = {k: dict(v) for k, v in state["nodes"].items()}
        return ports
