"""GPU threshold rules on DCGM telemetry (``aiops.gpu``) that never wait for a model.

* any XID error (``xid_last`` becomes non-zero or changes): CRITICAL;
* ECC double-bit errors (volatile count grows, or is non-zero when first seen): CRITICAL;
* row-remap failure (``remapped_rows_failure`` >= 1): CRITICAL;
* thermal or power throttling for more than ``throttle_ratio`` of the time between two
  scrapes (from the violation-time counters): HIGH;
* GPU fallen off the bus: a GPU the node reported before is missing from its scrape.

Each rule fires when its condition starts and again only after it has cleared.

>>> r = GpuRules()
>>> s = {"ts": 0, "node": "n1", "uuid": "GPU-1", "xid_last": 0.0}
>>> r.check_batch("n1", [s])
[]
>>> [b.rule for b, _ in r.check_batch("n1", [dict(s, ts=1000, xid_last=79.0)])]
['XID error 79']
>>> [b.rule for b, _ in r.check_batch("n1", [])]
['GPU GPU-1 missing from the scrape of n1 (fallen off the bus?)']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.detect.rules_cnf import Breach


@dataclass
class GpuState:
    """Rule state of one GPU: last XID and DBE count, counters, active rules, attributes."""

    xid: float = 0.0
    dbe: float | None = None
    counters: dict[str, tuple[float, int]] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)
    sample: dict[str, Any] = field(default_factory=dict)


class GpuRules:
    """Rule state per GPU uuid and the GPUs each node (``cluster/node``) reported last."""

    def __init__(self, throttle_ratio: float = 0.1) -> None:
        self.throttle_ratio = float(throttle_ratio)
        self.gpus: dict[str, GpuState] = {}
        self.nodes: dict[str, set[str]] = {}

    def _fire(self, g: GpuState, rule_id: str, cond: bool, breach: Breach) -> list[Breach]:
        if not cond:
            g.active.discard(rule_id)
            return []
        if rule_id in g.active:
            return []
        g.active.add(rule_id)
        return [breach]

    def check(self, s: dict[str, Any]) -> list[Breach]:
        """Rules for one GpuSample."""
        g = self.gpus.setdefault(s["uuid"], GpuState())
        g.active.discard("missing")
        g.sample = {k: s.get(k) for k in ("node", "gpu", "uuid", "model", "pod", "namespace",
                                          "container")}
        ts = int(s["ts"])
        out: list[Breach] = []
        xid = s.get("xid_last")
        if xid is not None:
            new = xid != 0 and xid != g.xid
            if new:
                g.active.discard("xid")
            out += self._fire(g, "xid", xid != 0, Breach(
                f"XID error {xid:g}", "rule:gpu_xid", "CRITICAL", ts, 0.0))
            g.xid = xid
        dbe = s.get("ecc_dbe_volatile_total")
        if dbe is not None:
            grew = dbe > (g.dbe if g.dbe is not None else 0.0)
            out += self._fire(g, "dbe", grew, Breach(
                f"ECC double-bit errors ({dbe:g})", "rule:gpu_ecc_dbe", "CRITICAL", ts, 0.0))
            g.dbe = dbe
        fail = s.get("remapped_rows_failure")
        if fail is not None:
            out += self._fire(g, "remap", fail >= 1, Breach(
                "row remapping failure", "rule:gpu_remap_failure", "CRITICAL", ts, 1.0))
        for name, label in (("thermal_violation_ns", "thermal"), ("power_violation_ns", "power")):
            v = s.get(name)
            if v is None:
                continue
            prev = g.counters.get(name)
            g.counters[name] = (v, ts)
            if prev is None or ts <= prev[1]:
                continue
            ratio = max(v - prev[0], 0.0) / ((ts - prev[1]) * 1e6)
            out += self._fire(g, label, ratio > self.throttle_ratio, Breach(
                f"{label} throttling {ratio:.0%} of the time > {self.throttle_ratio:.0%}",
                f"rule:gpu_{label}_throttle", "HIGH", ts, self.throttle_ratio))
        return out

    def check_batch(self, node: str, samples: list[dict[str, Any]],
                    scrape_ts: int | None = None, cluster: str = ""
                    ) -> list[tuple[Breach, dict[str, Any]]]:
        """Rules for one node scrape; (breach, gpu attributes) pairs.  Node names repeat
        across clusters (``worker-0`` everywhere), so a node is known by its cluster too."""
        key = f"{cluster}/{node}" if cluster else node
        out = [(b, self.gpus[s["uuid"]].sample) for s in samples for b in self.check(s)]
        seen = {s["uuid"] for s in samples}
        ts = scrape_ts if scrape_ts is not None else max((int(s["ts"]) for s in samples),
                                                         default=0)
        for uuid in sorted(self.nodes.get(key, set()) - seen):
            g = self.gpus.setdefault(uuid, GpuState())
            for b in self._fire(g, "missing", True, Breach(
                    f"GPU {uuid} missing from the scrape of {node} (fallen off the bus?)",
                    "rule:gpu_missing", "CRITICAL", ts, 0.0)):
                out.append((b, g.sample or {"node": node, "uuid": uuid}))
        if seen:
            self.nodes[key] = seen | {u for u in self.nodes.get(key, set())
                                       if "missing" in self.gpus[u].active}
        return out
