"""Node and container metrics, kube-state pod states and per-service RED histograms.

:class:`InfraModel` turns service load into pod CPU and memory and node utilisation, and keeps
what faults change over time: leaking memory ending in an OOMKill and a restart (counters of the
container then start again from zero), a filling disk raising ``DiskPressure``. ``add_rows``
declares every series with the metric names and labels real exporters use
(node-exporter, cAdvisor/kubelet, kube-state-metrics, an HTTP server histogram).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.simulator.series import BUCKET, GAUGE, ONEHOT, RATE, StateLayout, TableBuilder
from streams.simulator.topology import Cluster

CPU_MODES = {"user": 0.7, "system": 0.2, "iowait": 0.0, "irq": 0.02, "softirq": 0.05,
             "steal": 0.0, "nice": 0.03, "idle": 0.0}
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))
POD_CPU_LIMIT = 2.0


@dataclass
class InfraKnobs:
    """Per-tick fault inputs for pods and nodes."""

    pod_cpu_extra: np.ndarray
    pod_leak_bps: np.ndarray
    pod_kill: np.ndarray
    pod_down: np.ndarray
    node_fill_bps: np.ndarray
    node_retrans: np.ndarray


class InfraModel:
    """Pods and nodes of one cluster, vectorised over pods and over nodes."""

    def __init__(self, cluster: Cluster, rng: np.random.Generator) -> None:
        self.cluster = cluster
        self.node_index = {n.name: i for i, n in enumerate(cluster.nodes)}
        self.svc_index = {s.name: i for i, s in enumerate(cluster.services)}
        pods = cluster.pods
        self.pod_node = np.array([self.node_index[p.node] for p in pods])
        self.pod_svc = np.array([self.svc_index.get(p.service, -1) for p in pods])
        self.replicas = np.array([max(1, int((self.pod_svc == s).sum())) if s >= 0 else 1
                                  for s in self.pod_svc])
        svcs = cluster.services
        self.cpu_per_req = np.array([svcs[s].cpu_per_req if s >= 0 else 0.0
                                     for s in self.pod_svc])
        self.mem_base = np.array([svcs[s].mem_mib * 2**20 if s >= 0 else 96 * 2**20
                                  for s in self.pod_svc]) * rng.uniform(0.9, 1.1, len(pods))
        self.mem_limit = np.array([p.mem_limit_bytes for p in pods])
        self.cpu_idle = rng.uniform(0.01, 0.08, len(pods))
        self.leaked = np.zeros(len(pods))
        self.restarts = rng.integers(0, 2, len(pods)).astype(np.float64)
        self.oom = np.zeros(len(pods))
        self.recent = np.zeros(len(pods))  # restarts, decaying over ~5 minutes
        nodes = cluster.nodes
        self.cpus = np.array([n.cpus for n in nodes], dtype=np.float64)
        self.mem_total = np.array([n.mem_bytes for n in nodes])
        self.fs_size = np.array([n.disk_bytes for n in nodes])
        self.fs_used = self.fs_size * rng.uniform(0.25, 0.45, len(nodes))
        self.fs_used0 = self.fs_used.copy()

    def knobs(self) -> InfraKnobs:
        p, n = len(self.cluster.pods), len(self.cluster.nodes)
        return InfraKnobs(np.zeros(p), np.zeros(p), np.zeros(p, dtype=bool),
                          np.zeros(p, dtype=bool), np.zeros(n), np.zeros(n))

    def step(self, dt: float, rps: np.ndarray, err_rps: np.ndarray, k: InfraKnobs,
             z: np.ndarray) -> dict[str, np.ndarray]:
        """Pod and node state for one tick (``z``: noise, shape (2, pods))."""
        has_svc = self.pod_svc >= 0
        pod_rps = np.where(has_svc, rps[np.maximum(self.pod_svc, 0)] / self.replicas, 0.0)
        demand = self.cpu_idle + pod_rps * self.cpu_per_req + k.pod_cpu_extra
        demand = demand * np.maximum(1 + 0.05 * z[0], 0.5)
        cpu = np.minimum(demand, POD_CPU_LIMIT)
        throttled = np.maximum(demand - POD_CPU_LIMIT, 0.0)
        self.leaked = np.where(k.pod_leak_bps > 0, self.leaked + k.pod_leak_bps * dt, 0.0)
        mem = self.mem_base * (1 + 0.02 * z[1]) + pod_rps * 2e5 + self.leaked
        oom = mem >= self.mem_limit
        restart = oom | k.pod_kill
        self.leaked = np.where(oom, 0.0, self.leaked)
        mem = np.where(oom, self.mem_base * 0.6, mem)
        self.restarts = self.restarts + restart
        self.recent = self.recent * np.exp(-dt / 300.0) + restart
        backoff = (self.recent >= 1.5) | k.pod_down
        self.oom = np.where(oom, 1.0, np.where(k.pod_kill, 0.0, self.oom))
        n_nodes = len(self.cpus)
        node_cpu = np.bincount(self.pod_node, weights=cpu, minlength=n_nodes) + 0.3
        busy = np.clip(node_cpu / self.cpus, 0.0, 0.995)
        node_mem = np.bincount(self.pod_node, weights=mem, minlength=n_nodes)
        node_rx = np.bincount(self.pod_node, weights=pod_rps * 6e3, minlength=n_nodes) + 2e4
        self.fs_used = np.where(k.node_fill_bps > 0,
                                np.minimum(self.fs_used + k.node_fill_bps * dt,
                                           self.fs_size * 0.985), self.fs_used0)
        fs_avail = self.fs_size - self.fs_used
        filling = k.node_fill_bps > 0
        iowait = 0.01 + np.where(filling, 0.25, 0.0)
        out = {f"node_{m}": busy * f for m, f in CPU_MODES.items()}
        out["node_iowait"] = iowait * (1 - busy)
        out["node_idle"] = (1 - busy) * (1 - iowait)
        mem_avail = np.maximum(self.mem_total * 0.92 - node_mem - 2.5 * 2**30, 0.0)
        out.update({
            "node_mem_avail": mem_avail, "node_fs_avail": fs_avail,
            "node_load1": busy * self.cpus, "node_net_rx": node_rx, "node_net_tx": node_rx * 0.8,
            "node_disk_io": 0.02 + np.where(filling, 0.8, 0.0),
            "node_disk_written": 2e5 + np.where(filling, k.node_fill_bps, 0.0),
            "node_retrans": node_rx / 1500 * (1e-4 + k.node_retrans),
            "cond_disk": (fs_avail < 0.1 * self.fs_size).astype(np.float64),
            "cond_mem": (mem_avail < 0.05 * self.mem_total).astype(np.float64),
            "pod_cpu": cpu, "pod_throttled": throttled, "pod_mem": mem,
            "pod_restarts": self.restarts.copy(),
            "pod_ready": (~(restart | k.pod_down)).astype(np.float64),
            "pod_waiting": backoff.astype(np.float64),
            "pod_phase": np.ones(len(cpu)), "pod_oom": self.oom.copy(),
            "pod_net_rx": pod_rps * 6e3 + 500, "pod_net_tx": pod_rps * 4.8e3 + 300,
        })
        return out


def declare_state(layout: StateLayout, cluster: Cluster) -> None:
    """State keys of the node, pod and service series."""
    n, p, s = len(cluster.nodes), len(cluster.pods), len(cluster.services)
    layout.add("one", 1)
    for key in [f"node_{m}" for m in CPU_MODES] + [
            "node_mem_avail", "node_fs_avail", "node_load1", "node_net_rx", "node_net_tx",
            "node_disk_io", "node_disk_written", "node_retrans", "cond_disk", "cond_mem"]:
        layout.add(key, n)
    for key in ("pod_cpu", "pod_throttled", "pod_mem", "pod_restarts", "pod_ready", "pod_phase",
                "pod_oom", "pod_waiting", "pod_net_rx", "pod_net_tx"):
        layout.add(key, p)
    for key in ("svc_rps", "svc_rps_ok", "svc_rps_err", "svc_latency", "svc_latency_sum",
                "svc_generation"):
        layout.add(key, s)


def add_rows(b: TableBuilder, layout: StateLayout, cluster: Cluster) -> None:
    """node-exporter, kubelet/cAdvisor, kube-state-metrics and service RED series."""
    one = layout.at("one")
    for i, node in enumerate(cluster.nodes):
        t = f"node-exporter/{node.name}"
        inst = {"instance": f"{node.name}:9100", "node": node.name}
        for cpu in range(node.cpus):
            for mode in CPU_MODES:
                b.add(t, "node_cpu_seconds_total", "COUNTER", {**inst, "cpu": str(cpu),
                      "mode": mode}, RATE, layout.at(f"node_{mode}", i), noise=0.03,
                      help="Seconds the CPUs spent in each mode.")
        b.add(t, "node_memory_MemTotal_bytes", "GAUGE", inst, GAUGE, one, scale=node.mem_bytes)
        b.add(t, "node_memory_MemAvailable_bytes", "GAUGE", inst, GAUGE,
              layout.at("node_mem_avail", i), noise=0.002)
        fs = {**inst, "device": "/dev/nvme0n1p4", "fstype": "xfs", "mountpoint": "/sysroot"}
        b.add(t, "node_filesystem_size_bytes", "GAUGE", fs, GAUGE, one, scale=node.disk_bytes)
        b.add(t, "node_filesystem_avail_bytes", "GAUGE", fs, GAUGE,
              layout.at("node_fs_avail", i), noise=0.0005)
        b.add(t, "node_load1", "GAUGE", inst, GAUGE, layout.at("node_load1", i), noise=0.05)
        for dev, key in (("receive", "node_net_rx"), ("transmit", "node_net_tx")):
            b.add(t, f"node_network_{dev}_bytes_total", "COUNTER", {**inst, "device": "ens3"},
                  RATE, layout.at(key, i), noise=0.05)
        disk = {**inst, "device": "nvme0n1"}
        b.add(t, "node_disk_io_time_seconds_total", "COUNTER", disk, RATE,
              layout.at("node_disk_io", i), noise=0.05)
        b.add(t, "node_disk_written_bytes_total", "COUNTER", disk, RATE,
              layout.at("node_disk_written", i), noise=0.05)
        b.add(t, "node_netstat_Tcp_RetransSegs", "COUNTER", inst, RATE,
              layout.at("node_retrans", i), noise=0.1)
        ksm = "kube-state-metrics"
        for cond, key in (("DiskPressure", "cond_disk"), ("MemoryPressure", "cond_mem")):
            for status, val in (("true", 1.0), ("false", 0.0)):
                b.add(ksm, "kube_node_status_condition", "GAUGE",
                      {"node": node.name, "condition": cond, "status": status}, ONEHOT,
                      layout.at(key, i), offset=val)
    for j, pod in enumerate(cluster.pods):
        t = f"kubelet/{pod.node}"
        c = {"namespace": pod.namespace, "pod": pod.name, "container": pod.container,
             "node": pod.node}
        reset = layout.at("pod_restarts", j)
        b.add(t, "container_cpu_usage_seconds_total", "COUNTER", c, RATE, layout.at("pod_cpu", j),
              reset=reset, help="Cumulative cpu time consumed (seconds).")
        b.add(t, "container_cpu_cfs_throttled_seconds_total", "COUNTER", c, RATE,
              layout.at("pod_throttled", j), reset=reset)
        b.add(t, "container_memory_working_set_bytes", "GAUGE", c, GAUGE, layout.at("pod_mem", j))
        b.add(t, "container_spec_memory_limit_bytes", "GAUGE", c, GAUGE, one,
              scale=pod.mem_limit_bytes)
        net = {"namespace": pod.namespace, "pod": pod.name, "interface": "eth0", "node": pod.node}
        b.add(t, "container_network_receive_bytes_total", "COUNTER", net, RATE,
              layout.at("pod_net_rx", j), reset=reset, noise=0.05)
        b.add(t, "container_network_transmit_bytes_total", "COUNTER", net, RATE,
              layout.at("pod_net_tx", j), reset=reset, noise=0.05)
        ksm = "kube-state-metrics"
        kc = {"namespace": pod.namespace, "pod": pod.name, "container": pod.container}
        b.add(ksm, "kube_pod_container_status_restarts_total", "COUNTER", kc, GAUGE, reset)
        b.add(ksm, "kube_pod_container_status_ready", "GAUGE", kc, GAUGE,
              layout.at("pod_ready", j))
        b.add(ksm, "kube_pod_container_status_last_terminated_reason", "GAUGE",
              {**kc, "reason": "OOMKilled"}, GAUGE, layout.at("pod_oom", j))
        b.add(ksm, "kube_pod_container_status_waiting_reason", "GAUGE",
              {**kc, "reason": "CrashLoopBackOff"}, GAUGE, layout.at("pod_waiting", j))
        for code, phase in enumerate(PHASES):
            b.add(ksm, "kube_pod_status_phase", "GAUGE",
                  {"namespace": pod.namespace, "pod": pod.name, "phase": phase}, ONEHOT,
                  layout.at("pod_phase", j), offset=float(code))
    for s, svc in enumerate(cluster.services):
        t = f"app/{svc.namespace}/{svc.name}"
        lbl = {"namespace": svc.namespace, "service": svc.name, "job": svc.name}
        fam = "http_server_requests_seconds"
        for le in BUCKETS:
            b.add(t, f"{fam}_bucket", "HISTOGRAM", {**lbl, "le": _le(le)}, BUCKET,
                  layout.at("svc_rps", s), src2=layout.at("svc_latency", s), le=le, family=fam,
                  help="Duration of HTTP server requests.")
        b.add(t, f"{fam}_count", "HISTOGRAM", lbl, RATE, layout.at("svc_rps", s), family=fam)
        b.add(t, f"{fam}_sum", "HISTOGRAM", lbl, RATE, layout.at("svc_latency_sum", s),
              family=fam)
        for code, key in (("2xx", "svc_rps_ok"), ("5xx", "svc_rps_err")):
            b.add(t, "http_server_requests_total", "COUNTER", {**lbl, "code": code}, RATE,
                  layout.at(key, s), help="HTTP server requests by status class.")
        b.add("kube-state-metrics", "kube_deployment_status_observed_generation", "GAUGE",
              {"namespace": svc.namespace, "deployment": svc.name}, GAUGE,
              layout.at("svc_generation", s))


def _le(le: float) -> str:
    return "+Inf" if le == float("inf") else repr(le)
