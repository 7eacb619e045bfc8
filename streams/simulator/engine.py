"""One simulated cluster, tick by tick: faults -> models -> every series, GPU, span and log.

Each cluster owns seeded numpy generators (noise, traces, logs) whose draws per tick do not
depend on the faults, so a run with a fault and one without, same seed, differ only where the
fault acts. A tick is a function of (cluster, seed, faults, tick number) only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from streams.simulator import cnf, gpu, metrics
from streams.simulator.cnf import FREERUN, HOLDOVER, PtpModel
from streams.simulator.faults import Fault
from streams.simulator.gpu import GpuKnobs, GpuModel, gpu_samples
from streams.simulator.logs import LogGen
from streams.simulator.metrics import InfraKnobs, InfraModel
from streams.simulator.series import SeriesTable, StateLayout, TableBuilder
from streams.simulator.topology import LLM_NS, RAN_NS, Cluster
from streams.simulator.traces import TraceGen
from streams.simulator.workload import (
    BASE_ERROR,
    ServiceFrame,
    ServiceKnobs,
    ServiceModel,
    daily_profile,
)

VLLM_RPS_PER_NODE = 1.2


@dataclass
class TickOutput:
    """Everything one cluster produced in one tick."""

    ts: int
    dark: bool
    values: np.ndarray
    frame: ServiceFrame
    state: dict[str, np.ndarray]
    gpu_fields: dict[str, np.ndarray]
    gpu_by_node: dict[str, list[dict]]
    spans: list[dict] = field(default_factory=list)
    logs: list[dict] = field(default_factory=list)


class ClusterSim:
    """Simulates one cluster; ``tick(k)`` must be called with k = 0, 1, 2 ..."""

    def __init__(self, cluster: Cluster, seed: int, start_ms: int, step_ms: int,
                 faults: list[Fault] | None = None, traces_per_tick: int = 4,
                 logs_per_tick: int = 40) -> None:
        self.cluster = cluster
        self.seed = seed
        self.start_ms = start_ms
        self.step_ms = step_ms
        self.faults = [f for f in (faults or []) if f.cluster == cluster.name]
        init = np.random.default_rng([seed, cluster.index, 3])
        self.noise = np.random.default_rng([seed, cluster.index, 10])
        self.services = ServiceModel(cluster)
        self.infra = InfraModel(cluster, init)
        self.gpu = GpuModel(cluster, init)
        self.ptp = PtpModel(cluster)
        self.traces = TraceGen(cluster, np.random.default_rng([seed, cluster.index, 11]),
                               traces_per_tick)
        self.logs = LogGen(cluster, np.random.default_rng([seed, cluster.index, 12]),
                           logs_per_tick)
        self.layout = StateLayout()
        metrics.declare_state(self.layout, cluster)
        cnf.declare_state(self.layout, cluster)
        gpu.declare_state(self.layout, cluster)
        builder = TableBuilder(cluster.name)
        metrics.add_rows(builder, self.layout, cluster)
        du_pods = {p.node: p.name for p in cluster.pods if p.namespace == RAN_NS}
        cnf.add_rows(builder, self.layout, cluster, du_pods)
        gpu.add_rows(builder, self.layout, cluster)
        self.table: SeriesTable = builder.build()
        self.svc_of = {s.name: i for i, s in enumerate(cluster.services)}
        self.vllm_pods = {p.node: j for j, p in enumerate(cluster.pods) if p.namespace == LLM_NS}
        self.gpu_pods = {p.node: (p.namespace, p.name, "vllm") for p in cluster.pods
                         if p.namespace == LLM_NS}
        self.du_pods = {p.node: j for j, p in enumerate(cluster.pods) if p.namespace == RAN_NS}
        self._prev_throttled = np.zeros(len(cluster.pods))
        self._prev_unready = np.zeros(len(cluster.pods))
        self._uptime = init.uniform(3600, 30 * 86400, len(self.table))
        self._started = False

    @property
    def series_count(self) -> int:
        return len(self.table)

    # -- fault effects --------------------------------------------------------
    def _apply_faults(self, ts: int, sk: ServiceKnobs, ik: InfraKnobs, gk: GpuKnobs,
                      lost: np.ndarray, holdover: np.ndarray) -> tuple[bool, np.ndarray]:
        """Set this tick's knobs from the active faults; returns (dark, deployment generations)."""
        dark = False
        generation = np.ones(len(self.cluster.services))
        for f in self.faults:
            t = f.target
            if f.kind == "bad_deployment":
                generation[t["service"]] += (ts >= f.start_ts) + (ts >= f.end_ts)
            if not f.active(ts):
                continue
            dur_s = (f.end_ts - f.start_ts) / 1000.0
            p = f.parameters
            if f.kind == "cpu_saturation":
                ik.pod_cpu_extra[t["pod"]] += 3.5
            elif f.kind == "memory_leak":
                j = t["pod"]
                ik.pod_leak_bps[j] += (self.infra.mem_limit[j] - self.infra.mem_base[j]) / float(
                    p.get("oom_every_s", "150"))
            elif f.kind == "disk_pressure":
                i = t["node"]
                ik.node_fill_bps[i] += self.infra.fs_size[i] * 0.62 / max(dur_s * 0.4, 1.0)
            elif f.kind == "network_delay":
                sk.edge_delay_ms[self._edge(f)] += float(p["delay_ms"])
            elif f.kind == "packet_loss":
                loss = float(p["loss_pct"]) / 100.0
                sk.edge_loss[self._edge(f)] = max(sk.edge_loss[self._edge(f)], loss)
                callee = self.cluster.services[t["callee"]].name
                for pod in self.cluster.pods_of(callee):
                    ik.node_retrans[self.infra.node_index[pod.node]] += loss
            elif f.kind == "bad_deployment":
                sk.err_add[t["service"]] += float(p["error_ratio"])
            elif f.kind == "dependency_slowdown":
                sk.lat_mult[t["service"]] *= float(p["factor"])
            elif f.kind == "gpu_thermal_throttle":
                gk.extra_heat_c[t["gpu"]] += float(p["extra_heat_c"])
            elif f.kind == "gpu_xid_error":
                gk.xid[t["gpu"]] = float(p["xid"])
            elif f.kind == "gpu_ecc_dbe":
                gk.dbe_rate[t["gpu"]] += float(p["dbe_per_min"])
            elif f.kind == "ptp_freerun":
                lost[t["port"]] = 1.0
                holdover[t["port"]] = float(p["holdover_s"])
            elif f.kind == "cluster_dark":
                dark = True
        return dark, generation

    def _edge(self, f: Fault) -> int:
        names = self.services.names
        return self.services.edge_index(names[f.target["caller"]], names[f.target["callee"]])

    # -- one tick -------------------------------------------------------------
    def tick(self, k: int) -> TickOutput:
        ts = self.start_ms + k * self.step_ms
        dt = self.step_ms / 1000.0
        c = self.cluster
        n_svc, n_pod, n_gpu = len(c.services), len(c.pods), len(self.gpu.gpus)
        n_ptp = len(self.ptp.ports)
        z_svc = self.noise.standard_normal(n_svc)
        z_pod = self.noise.standard_normal((2, n_pod))
        z_gpu = self.noise.standard_normal((3, n_gpu))
        z_ptp = self.noise.standard_normal((2, n_ptp))
        z_series = self.noise.standard_normal(len(self.table))
        profile = float(daily_profile(ts / 1000.0, c.tz_offset_h))

        sk, ik, gk = self.services.knobs(), self.infra.knobs(), self.gpu.knobs()
        lost, holdover = np.zeros(n_ptp), np.zeros(n_ptp)
        dark, generation = self._apply_faults(ts, sk, ik, gk, lost, holdover)
        # feedback of the previous tick: throttled or restarting pods slow and fail requests
        pod_svc = self.infra.pod_svc
        has = pod_svc >= 0
        reps = self.infra.replicas
        sk.lat_mult += np.bincount(pod_svc[has], weights=(self._prev_throttled / 0.5
                                                          / reps)[has], minlength=n_svc)
        sk.err_add += np.bincount(pod_svc[has], weights=(self._prev_unready * 0.6 / reps)[has],
                                  minlength=n_svc)
        if "vllm" in self.svc_of and n_gpu:
            v = self.svc_of["vllm"]
            # tensor parallelism: a node's pod runs at the pace of its slowest GPU
            slowest = {}
            for g, ratio in zip(self.gpu.gpus, self.gpu.clock_ratio.tolist(), strict=True):
                slowest[g.node] = min(slowest.get(g.node, 1.0), ratio)
            sk.lat_mult[v] *= float(np.mean([1.0 / max(r, 0.3) for r in slowest.values()]))
        if "du-app" in self.svc_of and n_ptp:
            d = self.svc_of["du-app"]
            share = 1.0 / max(len(self.du_pods), 1)
            sk.err_add[d] += share * (0.03 * (self.ptp.state == HOLDOVER).sum()
                                      + 0.4 * (self.ptp.state == FREERUN).sum())
        frame = self.services.frame(profile, z_svc, sk)

        gpu_fields: dict[str, np.ndarray] = {}
        gpu_by_node: dict[str, list[dict]] = {}
        llm: dict[str, float | np.ndarray] = {
            key: np.zeros(0) for key in ("llm_running", "llm_waiting", "llm_cache")}
        if n_gpu:
            node_of = [g.node for g in self.gpu.gpus]
            v = self.svc_of["vllm"]
            per_node = frame.rps[v] / max(len(self.vllm_pods), 1)
            demand = np.full(n_gpu, np.clip(0.1 + 0.75 * per_node / VLLM_RPS_PER_NODE, 0, 0.98))
            gpu_fields, killed = self.gpu.step(dt, demand, gk, z_gpu)
            for g in np.flatnonzero(killed):
                ik.pod_kill[self.vllm_pods[node_of[g]]] = True
            down_nodes = {node_of[g] for g in range(n_gpu) if not self.gpu.running[g]}
            for node in down_nodes:
                ik.pod_down[self.vllm_pods[node]] = True
            if down_nodes:
                frame.error_ratio[v] = min(1.0, frame.error_ratio[v] + len(down_nodes)
                                           / max(len(self.vllm_pods), 1))
            gpu_by_node = gpu_samples(self.gpu.gpus, gpu_fields, ts, self.gpu_pods)
            llm = gpu.vllm_state(float(frame.rps[v]), float(frame.latency_s[v]),
                                 gpu_fields["gpu_util"] / 100.0,
                                 len(down_nodes) < len(self.vllm_pods))
        err_rps = frame.rps * frame.error_ratio
        infra = self.infra.step(dt, frame.rps, err_rps, ik, z_pod)
        self._prev_throttled = infra["pod_throttled"]
        self._prev_unready = 1.0 - infra["pod_ready"]
        ptp = self.ptp.step(dt, lost, holdover, z_ptp) if n_ptp else {
            key: np.zeros(0) for key in ("ptp_offset", "ptp_max_offset", "ptp_freq", "ptp_delay",
                                         "ptp_state", "ptp_class", "phc_offset")}
        state = {**infra, **ptp, **llm, "one": 1.0, "svc_rps": frame.rps,
                 "svc_rps_ok": frame.rps - err_rps, "svc_rps_err": err_rps,
                 "svc_latency": frame.latency_s,
                 "svc_latency_sum": frame.rps * frame.latency_s * np.exp(0.125),
                 "svc_generation": generation}
        packed = self.layout.pack(state)
        if not self._started:
            self.table.start(packed, self._uptime)
            self._started = True
        values = self.table.step(packed, dt, z_series)
        events = {"oom": np.flatnonzero(infra["pod_oom"] * (1 - infra["pod_ready"])).tolist(),
                  "killed_gpu_nodes": [p for p, j in self.vllm_pods.items() if ik.pod_kill[j]],
                  "gpu_xid": gpu_fields.get("xid_last", np.zeros(0)),
                  "gpu_dbe": gpu_fields.get("ecc_dbe_volatile_total", np.zeros(0)),
                  "ptp_state": ptp["ptp_state"], "ptp_offset": ptp["ptp_offset"],
                  "ptp_class": ptp["ptp_class"], "generation": generation}
        own_err = np.clip(BASE_ERROR + sk.err_add, 0, 1)
        spans = self.traces.generate(ts, frame, own_err, sk)
        logs = self.logs.generate(ts, dt, frame, events, infra)
        return TickOutput(ts, dark, values, frame, state, gpu_fields, gpu_by_node, spans, logs)
