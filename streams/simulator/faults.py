"""The fault catalogue, fault schedules and their ground truth.

A fault spec reads ``kind@+START/DURATION[:key=value,...]``, e.g. ``cpu_saturation@+5m/10m`` or
``network_delay@+2m/5m:cluster=spoke-001,caller=frontend,callee=cartservice,delay_ms=300``.
Targets not given are picked deterministically from the seed. Each resolved :class:`Fault`
names its root-cause entity exactly as the pipeline sees it:

========== ==================== ==========================================
type       identity             example
========== ==================== ==========================================
SERVICE    namespace/service    boutique/cartservice
POD        namespace/pod        boutique/checkoutservice-x7k2p9f3ab-q4z8m
NODE       node                 worker-1
GPU        node/uuid            gpu-0/GPU-3f2a...
PTP_CLOCK  node/iface           sno-0/ens1f0
CLUSTER    cluster name         spoke-001
========== ==================== ==========================================

>>> s = parse_spec("cpu_saturation@+5m/10m")
>>> (s.kind, s.start_ms, s.duration_ms)
('cpu_saturation', 300000, 600000)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from streams.simulator.clock import parse_duration
from streams.simulator.topology import LLM_NS, RAN_NS, SHOP_NS, Cluster


@dataclass(frozen=True)
class FaultKind:
    """One entry of the catalogue."""

    name: str
    entity_type: str
    needs: str  # shop | gpu | ptp | any
    description: str
    signals: tuple[str, ...]


CATALOGUE: dict[str, FaultKind] = {k.name: k for k in (
    FaultKind("cpu_saturation", "POD", "shop", "A pod burns CPU up to its limit and is throttled.",
              ("container_cpu_usage_seconds_total", "container_cpu_cfs_throttled_seconds_total",
               "node_cpu_seconds_total", "http_server_requests_seconds")),
    FaultKind("memory_leak", "POD", "shop", "A pod leaks memory until it is OOMKilled, repeatedly.",
              ("container_memory_working_set_bytes", "kube_pod_container_status_restarts_total",
               "kube_pod_container_status_last_terminated_reason")),
    FaultKind("disk_pressure", "NODE", "any", "A node's root filesystem fills up.",
              ("node_filesystem_avail_bytes", "kube_node_status_condition",
               "node_disk_io_time_seconds_total")),
    FaultKind("network_delay", "SERVICE", "shop", "Added latency on the calls caller -> callee.",
              ("http_server_requests_seconds", "spans")),
    FaultKind("packet_loss", "SERVICE", "shop", "Packet loss on the calls caller -> callee.",
              ("http_server_requests_total", "node_netstat_Tcp_RetransSegs", "spans", "logs")),
    FaultKind("bad_deployment", "SERVICE", "shop", "A rollout raises the service's error rate.",
              ("kube_deployment_status_observed_generation", "http_server_requests_total",
               "spans", "logs")),
    FaultKind("dependency_slowdown", "SERVICE", "shop",
              "The database (redis-cart) slows down; its callers follow.",
              ("http_server_requests_seconds", "spans")),
    FaultKind("gpu_thermal_throttle", "GPU", "gpu", "Cooling failure: the GPU heats and throttles.",
              ("DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_THERMAL_VIOLATION",
               "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS")),
    FaultKind("gpu_xid_error", "GPU", "gpu", "An XID error kills the vLLM workload on the GPU.",
              ("DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED",
               "kube_pod_container_status_restarts_total", "logs")),
    FaultKind("gpu_ecc_dbe", "GPU", "gpu", "Uncorrectable (double-bit) ECC errors.",
              ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "DCGM_FI_DEV_RETIRED_DBE",
               "DCGM_FI_DEV_XID_ERRORS", "logs")),
    FaultKind("ptp_freerun", "PTP_CLOCK", "ptp",
              "The PTP clock loses its source: HOLDOVER, then FREERUN; the DU fails.",
              ("openshift_ptp_offset_ns", "openshift_ptp_clock_state",
               "openshift_ptp_clock_class", "http_server_requests_total", "logs")),
    FaultKind("cluster_dark", "CLUSTER", "any", "The cluster's scraper goes silent.",
              ("heartbeat", "all signals absent")),
)}

#: Rounds of the ``fleet-every-kind`` schedule (every kind once per round).
FLEET_ROUNDS = 3

SCHEDULES: dict[str, list[str]] = {
    "demo-short": ["cpu_saturation@+2m/4m", "gpu_thermal_throttle@+3m/5m",
                   "ptp_freerun@+5m/4m", "bad_deployment@+8m/4m", "memory_leak@+10m/6m"],
    "all-kinds": [f"{k}@+{2 + 7 * i}m/5m" for i, k in enumerate(CATALOGUE)],
    # For large fleets (36 clusters or more): every kind FLEET_ROUNDS times, rounds 2 minutes
    # apart, each fault on a cluster of its own (``cluster=spread``), all within 11 minutes.
    "fleet-every-kind": [f"{k}@+{2 + 2 * r}m/5m:cluster=spread"
                         for r in range(FLEET_ROUNDS) for k in CATALOGUE],
    "none": [],
}

#: A spread fault avoids clusters with a fault this close in time (the scorecard's grace).
SPREAD_GAP_MS = 300_000


@dataclass(frozen=True)
class FaultSpec:
    """A requested fault, before a target is resolved."""

    kind: str
    start_ms: int
    duration_ms: int
    options: dict[str, str] = field(default_factory=dict)


def parse_spec(text: str) -> FaultSpec:
    """Parse ``kind@+START/DURATION[:k=v,...]``; raise ValueError with the reason."""
    head, _, opts = text.strip().partition(":")
    kind, at, when = head.partition("@")
    if kind not in CATALOGUE:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(CATALOGUE)}")
    if not at or "/" not in when:
        raise ValueError(f"fault {text!r}: expected kind@+START/DURATION, e.g. {kind}@+5m/10m")
    start, _, dur = when.partition("/")
    options = {}
    for item in filter(None, opts.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"fault {text!r}: option {item!r} is not key=value")
        options[key.strip()] = value.strip()
    spec = FaultSpec(kind, parse_duration(start), parse_duration(dur), options)
    if spec.duration_ms <= 0:
        raise ValueError(f"fault {text!r}: duration must be positive")
    return spec


def load_schedule(name_or_path: str) -> list[FaultSpec]:
    """A named schedule or a YAML file (a list of specs or of {kind, start, duration, ...})."""
    if name_or_path in SCHEDULES:
        return [parse_spec(s) for s in SCHEDULES[name_or_path]]
    path = Path(name_or_path)
    if not path.exists():
        raise ValueError(f"no schedule {name_or_path!r}: use {', '.join(SCHEDULES)} or a YAML file")
    items = yaml.safe_load(path.read_text()) or []
    specs = []
    for item in items:
        if isinstance(item, str):
            specs.append(parse_spec(item))
        else:
            opts = {k: str(v) for k, v in item.items() if k not in ("kind", "start", "duration")}
            specs.append(FaultSpec(item["kind"], parse_duration(str(item["start"])),
                                   parse_duration(str(item["duration"])), opts))
    return specs


@dataclass
class Fault:
    """A resolved fault with its ground truth; ``target`` holds model indices for the engine."""

    fault_id: str
    kind: str
    cluster: str
    start_ts: int
    end_ts: int
    root_cause_type: str
    root_cause: str
    affected: list[str]
    parameters: dict[str, str]
    target: dict[str, int] = field(default_factory=dict)

    def active(self, ts: int) -> bool:
        return self.start_ts <= ts < self.end_ts

    def record(self, seed: int) -> dict:
        """The FaultRecord (ground truth) for ``aiops.groundtruth`` and the JSONL file."""
        return {"fault_id": self.fault_id, "kind": self.kind, "cluster": self.cluster,
                "start_ts": self.start_ts, "end_ts": self.end_ts,
                "root_cause_type": self.root_cause_type, "root_cause": self.root_cause,
                "affected": list(self.affected), "parameters": dict(self.parameters),
                "signals": list(CATALOGUE[self.kind].signals), "seed": seed}


def _eligible(kind: FaultKind, fleet: list[Cluster]) -> list[Cluster]:
    need = {"shop": lambda c: c.has_shop, "gpu": lambda c: c.has_gpu,
            "ptp": lambda c: c.has_ptp, "any": lambda c: True}[kind.needs]
    return [c for c in fleet if need(c)]


def _callers(cluster: Cluster, name: str) -> list[str]:
    """Services that call ``name``, directly or transitively."""
    out: list[str] = []
    frontier = [name]
    while frontier:
        cur = frontier.pop()
        for s in cluster.services:
            if any(d == cur for d, _ in s.deps) and s.name not in out:
                out.append(s.name)
                frontier.append(s.name)
    return out


def _spread(candidates: list[Cluster], start_ms: int, end_ms: int,
            placed: list[Fault]) -> list[Cluster]:
    """The candidates hosting no placed fault within :data:`SPREAD_GAP_MS` of
    ``[start_ms, end_ms)``; all of them when every one does (a fleet too small)."""
    busy = {f.cluster for f in placed
            if f.start_ts < end_ms + SPREAD_GAP_MS and start_ms < f.end_ts + SPREAD_GAP_MS}
    free = [c for c in candidates if c.name not in busy]
    return free or candidates


def resolve(spec: FaultSpec, fleet: list[Cluster], seed: int, run_start_ms: int,
            ordinal: int, placed: list[Fault] | None = None) -> Fault:
    """Pick the cluster and entity of ``spec`` (deterministic per seed) and write its truth.

    ``cluster=spread`` picks a cluster with no other fault of ``placed`` near in time.
    """
    kind = CATALOGUE[spec.kind]
    rng = np.random.default_rng([seed, ordinal, 7])
    options = dict(spec.options)
    candidates = _eligible(kind, fleet)
    if options.get("cluster") == "spread":
        del options["cluster"]
        start = run_start_ms + spec.start_ms
        candidates = _spread(candidates, start, start + spec.duration_ms, placed or [])
    if "cluster" in options:
        candidates = [c for c in candidates if c.name == options["cluster"]]
    if not candidates:
        raise ValueError(f"fault {spec.kind}: no cluster in the fleet can host it "
                         f"(needs {kind.needs}; try more clusters)")
    cluster = candidates[int(rng.integers(len(candidates)))] if "cluster" not in options \
        else candidates[0]
    start = run_start_ms + spec.start_ms
    fid = hashlib.blake2b(f"{seed}/{ordinal}/{spec.kind}/{cluster.name}/{start}".encode(),
                          digest_size=8).hexdigest()
    fault = Fault(fid, spec.kind, cluster.name, start, start + spec.duration_ms,
                  kind.entity_type, "", [], {})
    _TARGETERS[spec.kind](fault, cluster, rng, options)
    fault.parameters = {**{k: v for k, v in options.items() if k != "cluster"},
                        **fault.parameters}
    return fault


def _svc(cluster: Cluster, name: str) -> tuple[int, str]:
    for i, s in enumerate(cluster.services):
        if s.name == name:
            return i, s.entity
    raise ValueError(f"cluster {cluster.name} has no service {name!r}")


def _pod_target(f: Fault, c: Cluster, rng: np.random.Generator, o: dict[str, str]) -> None:
    default = {"cpu_saturation": "checkoutservice", "memory_leak": "cartservice"}[f.kind]
    pods = [(j, p) for j, p in enumerate(c.pods) if p.service == o.get("service", default)]
    if "pod" in o:
        pods = [(j, p) for j, p in enumerate(c.pods) if p.name == o["pod"]]
    if not pods:
        raise ValueError(f"fault {f.kind}: no such pod/service on {c.name}")
    j, pod = pods[int(rng.integers(len(pods)))]
    f.target = {"pod": j}
    f.root_cause = pod.entity
    f.affected = [f"POD:{pod.entity}", f"SERVICE:{SHOP_NS}/{pod.service}", f"NODE:{pod.node}"]
    f.affected += [f"SERVICE:{SHOP_NS}/{s}" for s in _callers(c, pod.service)]


def _node_target(f: Fault, c: Cluster, rng: np.random.Generator, o: dict[str, str]) -> None:
    nodes = [(i, n) for i, n in enumerate(c.nodes) if n.role in ("worker", "cnf", "gpu")] or \
        list(enumerate(c.nodes))
    if "node" in o:
        nodes = [(i, n) for i, n in enumerate(c.nodes) if n.name == o["node"]]
    if not nodes:
        raise ValueError(f"fault {f.kind}: no node {o.get('node')!r} on {c.name}")
    i, node = nodes[int(rng.integers(len(nodes)))]
    f.target = {"node": i}
    f.root_cause = node.name
    f.affected = [f"NODE:{node.name}"] + [f"POD:{p.entity}" for p in c.pods if p.node == node.name
                                          and p.service]


def _edge_target(f: Fault, c: Cluster, rng: np.random.Generator, o: dict[str, str]) -> None:
    caller, callee = o.get("caller", "frontend"), o.get("callee", "cartservice")
    ci, _ = _svc(c, caller)
    ti, entity = _svc(c, callee)
    if not any(d == callee for d, _ in c.services[ci].deps):
        raise ValueError(f"fault {f.kind}: {caller} does not call {callee}")
    f.target = {"caller": ci, "callee": ti}
    f.root_cause = entity
    f.parameters = {"caller": caller, "callee": callee}
    if f.kind == "network_delay":
        f.parameters["delay_ms"] = o.get("delay_ms", "250")
    else:
        f.parameters["loss_pct"] = o.get("loss_pct", "15")
    f.affected = [f"SERVICE:{entity}", f"SERVICE:{SHOP_NS}/{caller}"] + [
        f"SERVICE:{SHOP_NS}/{s}" for s in _callers(c, caller)]


def _service_target(f: Fault, c: Cluster, rng: np.random.Generator, o: dict[str, str]) -> None:
    default = "paymentservice" if f.kind == "bad_deployment" else "redis-cart"
    name = o.get("service", default)
    i, entity = _svc(c, name)
    f.target = {"service": i}
    f.root_cause = entity
    f.parameters = ({"error_ratio": o.get("error_ratio", "0.3"), "version": "v2"}
                    if f.kind == "bad_deployment" else {"factor": o.get("factor", "40")})
    f.affected = [f"SERVICE:{entity}"] + [f"SERVICE:{SHOP_NS}/{s}" for s in _callers(c, name)]


def _gpu_target(f: Fault, c: Cluster, rng: np.random.Generator, o: dict[str, str]) -> None:
    gpus = c.gpus
    if "gpu" in o:
        gpus = [g for g in gpus if g.uuid == o["gpu"] or f"{g.node}/{g.index}" == o["gpu"]]
    if not gpus:
        raise ValueError(f"fault {f.kind}: no GPU {o.get('gpu')!r} on {c.name}")
    g = gpus[int(rng.integers(len(gpus)))]
    f.target = {"gpu": c.gpus.index(g)}
    f.root_cause = g.entity
    vllm = [p for p in c.pods if p.namespace == LLM_NS and p.node == g.node]
    f.affected = [f"GPU:{g.entity}", f"NODE:{g.node}"] + [f"POD:{p.entity}" for p in vllm] + [
        f"SERVICE:{LLM_NS}/vllm"]
    if f.kind == "gpu_xid_error":
        f.parameters = {"xid": o.get("xid", "43")}
    elif f.kind == "gpu_thermal_throttle":
        f.parameters = {"extra_heat_c": o.get("extra_heat_c", "45")}
    else:
        f.parameters = {"dbe_per_min": o.get("dbe_per_min", "2")}


def _ptp_target(f: Fault, c: Cluster, rng: np.random.Generator, o: dict[str, str]) -> None:
    ports = [(n.name, i) for n in c.nodes for i in n.ptp_ifaces]
    k = int(rng.integers(len(ports)))
    node, iface = ports[k]
    f.target = {"port": k}
    f.root_cause = f"{node}/{iface}"
    du = [p for p in c.pods if p.namespace == RAN_NS and p.node == node]
    f.parameters = {"holdover_s": o.get("holdover_s", "60")}
    f.affected = [f"PTP_CLOCK:{node}/{iface}", f"NODE:{node}"] + [
        f"POD:{p.entity}" for p in du] + [f"SERVICE:{RAN_NS}/du-app"]


def _cluster_target(f: Fault, c: Cluster, rng: np.random.Generator, o: dict[str, str]) -> None:
    f.root_cause = c.name
    f.affected = [f"CLUSTER:{c.name}"]


_TARGETERS = {
    "cpu_saturation": _pod_target, "memory_leak": _pod_target, "disk_pressure": _node_target,
    "network_delay": _edge_target, "packet_loss": _edge_target,
    "bad_deployment": _service_target, "dependency_slowdown": _service_target,
    "gpu_thermal_throttle": _gpu_target, "gpu_xid_error": _gpu_target, "gpu_ecc_dbe": _gpu_target,
    "ptp_freerun": _ptp_target, "cluster_dark": _cluster_target,
}


def resolve_all(specs: list[FaultSpec], fleet: list[Cluster], seed: int,
                run_start_ms: int) -> list[Fault]:
    """Resolve every spec of a schedule (in order: a spread fault avoids the earlier ones)."""
    out: list[Fault] = []
    for i, s in enumerate(specs):
        out.append(resolve(s, fleet, seed, run_start_ms, i, out))
    return out


def write_jsonl(path: Path, records: list[dict]) -> None:
    """Append ground-truth records to a JSONL file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        for r in records:
            fh.write(json.dumps(r, sort_keys=True) + "\n")
