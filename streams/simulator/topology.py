"""The simulated fleet's shape: clusters, nodes, namespaces, pods, services, GPUs, PTP ports.

Everything is derived from ``(cluster index, seed, workers)`` so a fleet is the same on every run.
The application is the Online Boutique web shop (frontend, checkout, cart, catalogue ... and the
``redis-cart`` database); SPOKE clusters add GPU nodes running a vLLM server, EDGE and FAR_EDGE
clusters add CNF nodes with PTP, SR-IOV and DPDK running a vRAN DU.

>>> fleet = build_fleet(4, seed=1)
>>> [c.type for c in fleet]
['HUB', 'SPOKE', 'EDGE', 'FAR_EDGE']
>>> fleet[1].has_gpu and fleet[3].has_ptp
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

SHOP_NS = "boutique"
LLM_NS = "llm"
RAN_NS = "vran"

# service -> (own median latency ms, base rps share, cpu seconds per request, memory MiB)
SHOP_SERVICES: dict[str, tuple[float, float, float, float]] = {
    "frontend": (4.0, 1.0, 0.004, 120),
    "checkoutservice": (3.0, 0.1, 0.003, 90),
    "cartservice": (2.0, 0.8, 0.002, 160),
    "productcatalogservice": (1.5, 2.6, 0.001, 80),
    "currencyservice": (1.0, 1.7, 0.001, 110),
    "recommendationservice": (3.0, 0.6, 0.003, 200),
    "adservice": (2.0, 0.6, 0.002, 300),
    "shippingservice": (1.5, 0.4, 0.001, 60),
    "paymentservice": (2.5, 0.1, 0.001, 70),
    "emailservice": (3.0, 0.1, 0.002, 90),
    "redis-cart": (0.5, 1.2, 0.0005, 256),
}
# caller -> [(callee, calls per request)]: the Online Boutique call graph.
SHOP_EDGES: dict[str, list[tuple[str, float]]] = {
    "frontend": [("productcatalogservice", 2.0), ("currencyservice", 1.5), ("cartservice", 0.8),
                 ("recommendationservice", 0.6), ("adservice", 0.6), ("shippingservice", 0.2),
                 ("checkoutservice", 0.1)],
    "checkoutservice": [("cartservice", 2.0), ("productcatalogservice", 2.0),
                        ("currencyservice", 2.0), ("shippingservice", 2.0),
                        ("paymentservice", 1.0), ("emailservice", 1.0)],
    "recommendationservice": [("productcatalogservice", 1.0)],
    "cartservice": [("redis-cart", 1.5)],
}
PLATFORM_DAEMONS = (("openshift-monitoring", "node-exporter"), ("openshift-dns", "dns-default"),
                    ("openshift-ovn-kubernetes", "ovnkube-node"),
                    ("openshift-machine-config-operator", "machine-config-daemon"))
GPU_MODELS = ("NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB")
REGIONS = ("eu-west", "us-east", "us-west", "ap-south", "eu-central")
TYPE_CYCLE = ("SPOKE", "EDGE", "FAR_EDGE")


@dataclass(frozen=True)
class Gpu:
    """One GPU; its entity id is ``node/uuid``."""

    node: str
    index: int
    uuid: str
    model: str
    pci_bus_id: str

    @property
    def entity(self) -> str:
        return f"{self.node}/{self.uuid}"


@dataclass(frozen=True)
class Node:
    """A Kubernetes node; role is master, worker, gpu or cnf."""

    name: str
    role: str
    cpus: int
    mem_bytes: float
    disk_bytes: float
    gpus: tuple[Gpu, ...] = ()
    ptp_ifaces: tuple[str, ...] = ()
    sriov_vfs: int = 0
    dpdk_ports: int = 0


@dataclass(frozen=True)
class Service:
    """An application service (Deployment + Service) with RED metrics."""

    namespace: str
    name: str
    own_ms: float
    rps_share: float
    cpu_per_req: float
    mem_mib: float
    deps: tuple[tuple[str, float], ...] = ()

    @property
    def entity(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Pod:
    """A pod with one main container; ``service`` is empty for platform daemons."""

    namespace: str
    name: str
    container: str
    node: str
    service: str
    mem_limit_bytes: float

    @property
    def entity(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Cluster:
    """One simulated cluster."""

    index: int
    name: str
    type: str
    region: str
    version: str
    base_rps: float
    nodes: tuple[Node, ...]
    services: tuple[Service, ...]
    pods: tuple[Pod, ...]
    tz_offset_h: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def gpus(self) -> list[Gpu]:
        return [g for n in self.nodes for g in n.gpus]

    @property
    def has_gpu(self) -> bool:
        return any(n.gpus for n in self.nodes)

    @property
    def has_ptp(self) -> bool:
        return any(n.ptp_ifaces for n in self.nodes)

    @property
    def has_shop(self) -> bool:
        return any(s.namespace == SHOP_NS for s in self.services)

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(f"{self.name} has no service {name!r}")

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"{self.name} has no node {name!r}")

    def pods_of(self, service: str) -> list[Pod]:
        return [p for p in self.pods if p.service == service]


def _hex(seed: int, *parts: object, n: int = 10) -> str:
    text = "/".join(str(p) for p in (seed, *parts)).encode()
    return hashlib.blake2b(text, digest_size=16).hexdigest()[:n]


def _pod_suffix(seed: int, *parts: object) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    digest = hashlib.blake2b("/".join(map(str, (seed, *parts))).encode(), digest_size=16).digest()
    rs = "".join(alphabet[b % len(alphabet)] for b in digest[:10])
    return f"{rs[:5]}"


def cluster_type(index: int) -> str:
    """HUB for the first cluster, then SPOKE, EDGE, FAR_EDGE in turn."""
    return "HUB" if index == 0 else TYPE_CYCLE[(index - 1) % len(TYPE_CYCLE)]


def _nodes(ctype: str, index: int, seed: int, workers: int, gpus_per_node: int) -> list[Node]:
    rng = np.random.default_rng([seed, index, 1])
    gib = 1024.0**3
    if ctype == "FAR_EDGE":
        return [Node("sno-0", "cnf", 32, 192 * gib, 480 * gib, ptp_ifaces=("ens1f0",),
                     sriov_vfs=4, dpdk_ports=2)]
    nodes = [Node(f"master-{i}", "master", 8, 32 * gib, 120 * gib) for i in range(3)]
    for i in range(workers):
        cpus = int(rng.choice([8, 16, 16, 32]))
        nodes.append(Node(f"worker-{i}", "worker", cpus, cpus * 4 * gib, 240 * gib))
    if ctype == "SPOKE":
        model = GPU_MODELS[index % len(GPU_MODELS)]
        for i in range(2):
            name = f"gpu-{i}"
            gpus = tuple(
                Gpu(name, g, "GPU-" + _uuid(seed, index, name, g), model,
                    f"00000000:{0x17 + 0x10 * g:02X}:00.0")
                for g in range(gpus_per_node)
            )
            nodes.append(Node(name, "gpu", 64, 512 * gib, 960 * gib, gpus=gpus))
    if ctype == "EDGE":
        nodes.append(Node("cnf-0", "cnf", 32, 192 * gib, 480 * gib, ptp_ifaces=("ens1f0",),
                          sriov_vfs=4, dpdk_ports=2))
    return nodes


def _uuid(seed: int, *parts: object) -> str:
    h = _hex(seed, *parts, n=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _services(ctype: str) -> list[Service]:
    out: list[Service] = []
    if ctype != "FAR_EDGE":
        for name, (own, share, cpu, mem) in SHOP_SERVICES.items():
            out.append(Service(SHOP_NS, name, own, share, cpu, mem,
                               tuple(SHOP_EDGES.get(name, ()))))
    if ctype == "SPOKE":
        out.append(Service(LLM_NS, "vllm", 900.0, 0.05, 0.02, 4096))
    if ctype in ("EDGE", "FAR_EDGE"):
        out.append(Service(RAN_NS, "du-app", 0.3, 5.0, 0.0004, 2048))
    return out


def build_cluster(index: int, seed: int, workers: int = 3, gpus_per_node: int = 4) -> Cluster:
    """Cluster ``index`` of a fleet seeded with ``seed``."""
    ctype = cluster_type(index)
    name = f"{ctype.lower().replace('_', '')}-{index:03d}"
    nodes = _nodes(ctype, index, seed, workers, gpus_per_node)
    services = _services(ctype)
    rng = np.random.default_rng([seed, index, 2])
    app_nodes = [n for n in nodes if n.role in ("worker", "cnf")] or nodes
    pods: list[Pod] = []
    replicas = max(1, workers // 3)
    mib = 1024.0**2
    for svc in services:
        if svc.namespace == LLM_NS:
            hosts = [n for n in nodes if n.role == "gpu"]
        elif svc.namespace == RAN_NS:
            hosts = [n for n in nodes if n.role == "cnf"]
        else:
            k = replicas if svc.name != "redis-cart" else 1
            start = int(rng.integers(len(app_nodes)))
            hosts = [app_nodes[(start + r) % len(app_nodes)] for r in range(k)]
        rs = _pod_suffix(seed, index, svc.name)[:5] + _hex(seed, index, svc.name, n=5)
        for r, host in enumerate(hosts):
            pod_name = f"{svc.name}-{rs}-{_pod_suffix(seed, index, svc.name, r)}"
            pods.append(Pod(svc.namespace, pod_name, svc.name, host.name, svc.name,
                            svc.mem_mib * 4 * mib))
    for node in nodes:
        for ns, ds in PLATFORM_DAEMONS:
            pods.append(Pod(ns, f"{ds}-{_pod_suffix(seed, index, ds, node.name)}", ds,
                            node.name, "", 512 * mib))
        if node.ptp_ifaces:
            suffix = _pod_suffix(seed, index, node.name)
            pods.append(Pod("openshift-ptp", f"linuxptp-daemon-{suffix}",
                            "linuxptp-daemon-container", node.name, "", 256 * mib))
        if node.gpus:
            pods.append(Pod("nvidia-gpu-operator",
                            f"nvidia-dcgm-exporter-{_pod_suffix(seed, index, node.name)}",
                            "nvidia-dcgm-exporter", node.name, "", 512 * mib))
    base_rps = float(40 * replicas * rng.uniform(0.8, 1.25))
    region = REGIONS[index % len(REGIONS)]
    tz = {"eu-west": 0, "us-east": -5, "us-west": -8, "ap-south": 5.5, "eu-central": 1}[region]
    return Cluster(index, name, ctype, region, f"4.16.{index % 20}", base_rps, tuple(nodes),
                   tuple(services), tuple(pods), tz_offset_h=float(tz),
                   labels={"env": "production" if index % 5 else "staging"})


def build_fleet(clusters: int, seed: int, workers: int = 3,
                gpus_per_node: int = 4) -> list[Cluster]:
    """``clusters`` clusters, deterministic per ``seed``."""
    if clusters < 1:
        raise ValueError("a fleet needs at least one cluster")
    return [build_cluster(i, seed, workers, gpus_per_node) for i in range(clusters)]
