"""DCGM telemetry of a cluster's GPUs, tracking the vLLM server that runs on them.

Utilisation follows the vLLM request load; power follows utilisation; temperature follows power
with a thermal lag; clocks drop and the thermal-violation counter grows when the GPU runs hot;
energy and violation counters only increase. Faults act through :class:`GpuKnobs`: a cooling
failure (thermal throttling), an XID error that kills the workload, ECC double-bit errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.simulator.series import GAUGE, StateLayout, TableBuilder
from streams.simulator.topology import Cluster, Gpu

# GpuSample field -> (DCGM field name, prometheus type, help)
DCGM_FIELDS: dict[str, tuple[str, str, str]] = {
    "gpu_util": ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    "mem_copy_util": ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    "sm_clock_mhz": ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    "mem_clock_mhz": ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    "gpu_temp_c": ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    "memory_temp_c": ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    "power_w": ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    "energy_mj": ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter",
                  "Total energy consumption since boot (in mJ)."),
    "pcie_replay_total": ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter",
                          "Total number of PCIe retries."),
    "fb_free_mib": ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    "fb_used_mib": ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
    "xid_last": ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    "ecc_sbe_volatile_total": ("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "counter",
                               "Total number of single-bit volatile ECC errors."),
    "ecc_dbe_volatile_total": ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "counter",
                               "Total number of double-bit volatile ECC errors."),
    "ecc_dbe_aggregate_total": ("DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", "counter",
                                "Total number of double-bit persistent ECC errors."),
    "retired_pages_dbe": ("DCGM_FI_DEV_RETIRED_DBE", "counter",
                          "Total number of retired pages due to double-bit errors."),
    "remapped_rows_uncorrectable": ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter",
                                    "Number of remapped rows for uncorrectable errors."),
    "power_violation_ns": ("DCGM_FI_DEV_POWER_VIOLATION", "counter",
                           "Throttling duration due to power constraints (in ns)."),
    "thermal_violation_ns": ("DCGM_FI_DEV_THERMAL_VIOLATION", "counter",
                             "Throttling duration due to thermal constraints (in ns)."),
    "clock_throttle_reasons": ("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "gauge",
                               "Current clock throttle reasons (bitmask)."),
    "gr_engine_active": ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge",
                         "Ratio of time the graphics engine is active."),
    "sm_active": ("DCGM_FI_PROF_SM_ACTIVE", "gauge", "Ratio of cycles an SM has a warp."),
    "pipe_tensor_active": ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge",
                           "Ratio of cycles the tensor (HMMA) pipe is active."),
    "dram_active": ("DCGM_FI_PROF_DRAM_ACTIVE", "gauge",
                    "Ratio of cycles the device memory interface is active."),
    "pcie_tx_bytes": ("DCGM_FI_PROF_PCIE_TX_BYTES", "gauge", "PCIe bytes transmitted (B/s)."),
    "pcie_rx_bytes": ("DCGM_FI_PROF_PCIE_RX_BYTES", "gauge", "PCIe bytes received (B/s)."),
}
# model -> (idle W, max W, max SM MHz, mem MHz, framebuffer MiB)
SPECS = {"NVIDIA H100 80GB HBM3": (70.0, 700.0, 1980.0, 2619.0, 81559.0),
         "NVIDIA A100-SXM4-80GB": (55.0, 400.0, 1410.0, 1593.0, 81920.0)}
THROTTLE_SW_THERMAL, THROTTLE_HW_THERMAL, THROTTLE_IDLE = 0x20, 0x40, 0x1
SLOWDOWN_C = 87.0
MODEL_WEIGHTS_MIB = 0.55


@dataclass
class GpuKnobs:
    """Per-tick fault inputs per GPU."""

    extra_heat_c: np.ndarray
    xid: np.ndarray
    dbe_rate: np.ndarray


class GpuModel:
    """State and DCGM fields of every GPU of one cluster, vectorised over GPUs."""

    def __init__(self, cluster: Cluster, rng: np.random.Generator) -> None:
        self.gpus: list[Gpu] = cluster.gpus
        n = len(self.gpus)
        spec = np.array([SPECS[g.model] for g in self.gpus]).reshape(n, 5)
        self.idle_w, self.max_w, self.max_sm, self.mem_mhz, self.fb_mib = spec.T
        self.temp = 35.0 + rng.uniform(0, 3, n)
        self.energy = rng.uniform(1e9, 5e10, n)
        self.thermal_ns = np.zeros(n)
        self.power_ns = rng.uniform(0, 1e9, n)
        self.sbe = rng.integers(0, 3, n).astype(np.float64)
        self.dbe = np.zeros(n)
        self.dbe_agg = np.zeros(n)
        self.retired = np.zeros(n)
        self.remapped = np.zeros(n)
        self.pcie_replay = np.zeros(n)
        self.loaded = np.ones(n)  # 0 right after a workload crash, ramps back to 1
        self.prev_xid = np.zeros(n)
        self.clock_ratio = np.ones(n)
        self.running = np.ones(n, dtype=bool)

    def knobs(self) -> GpuKnobs:
        n = len(self.gpus)
        return GpuKnobs(np.zeros(n), np.zeros(n), np.zeros(n))

    def step(self, dt: float, demand: np.ndarray, knobs: GpuKnobs,
             z: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """DCGM fields for one tick and a per-GPU "workload killed now" mask.

        ``demand`` is the wanted utilisation 0..1 (vLLM load); ``z`` is noise, shape (3, n).
        """
        killed = ((knobs.xid > 0) & (self.prev_xid == 0)) | ((knobs.dbe_rate > 0) & (self.dbe == 0))
        self.prev_xid = knobs.xid.copy()
        self.loaded = np.where(killed | (knobs.xid > 0), 0.0,
                               np.minimum(self.loaded + dt / 120.0, 1.0))
        running = (self.loaded >= 1.0) & (knobs.xid == 0)
        self.running = running
        util = np.where(running, np.clip(demand * (1 + 0.05 * z[0]), 0.0, 1.0), 0.0)
        power = self.idle_w + (self.max_w - self.idle_w) * util ** 0.9
        target = 32.0 + 0.075 * power + knobs.extra_heat_c
        self.temp += (target - self.temp) * (1 - np.exp(-dt / 90.0))
        hot = self.temp > SLOWDOWN_C
        self.clock_ratio = np.where(hot, np.clip(1 - (self.temp - SLOWDOWN_C) * 0.06, 0.3, 1),
                                    1.0)
        sm = np.where(util > 0.02, self.max_sm * self.clock_ratio, 210.0)
        reasons = (np.where(hot, THROTTLE_SW_THERMAL | THROTTLE_HW_THERMAL, 0)
                   | np.where(util <= 0.02, THROTTLE_IDLE, 0))
        self.thermal_ns += np.where(hot, dt * 1e9, 0.0)
        self.power_ns += np.where(power > 0.97 * self.max_w, dt * 1e9, 0.0)
        self.energy += power * dt * 1000.0
        new_dbe = np.where(knobs.dbe_rate > 0, np.ceil(knobs.dbe_rate * dt / 60.0), 0.0)
        first = (new_dbe > 0) & (self.dbe == 0)
        self.dbe += new_dbe
        self.dbe_agg += new_dbe
        self.retired += first
        self.remapped += first
        self.sbe += (z[1] > 2.9)
        fb_used = self.fb_mib * self.loaded * (MODEL_WEIGHTS_MIB + 0.35 * util) + 450.0
        xid = np.where(knobs.xid > 0, knobs.xid, np.where(knobs.dbe_rate > 0, 48.0, 0.0))
        fields = {
            "gpu_util": np.round(util * 100), "mem_copy_util": np.round(util * 62),
            "sm_clock_mhz": np.round(sm), "mem_clock_mhz": np.where(util > 0.02, self.mem_mhz,
                                                                    405.0),
            "gpu_temp_c": np.round(self.temp), "memory_temp_c": np.round(self.temp + 4),
            "power_w": np.round(power * (1 + 0.01 * z[2]), 3), "energy_mj": self.energy.copy(),
            "pcie_replay_total": self.pcie_replay.copy(), "fb_free_mib": self.fb_mib - fb_used,
            "fb_used_mib": np.round(fb_used), "xid_last": xid,
            "ecc_sbe_volatile_total": self.sbe.copy(), "ecc_dbe_volatile_total": self.dbe.copy(),
            "ecc_dbe_aggregate_total": self.dbe_agg.copy(),
            "retired_pages_dbe": self.retired.copy(),
            "remapped_rows_uncorrectable": self.remapped.copy(),
            "power_violation_ns": self.power_ns.copy(),
            "thermal_violation_ns": self.thermal_ns.copy(),
            "clock_throttle_reasons": reasons.astype(np.float64),
            "gr_engine_active": np.round(util * 0.97, 4), "sm_active": np.round(util * 0.9, 4),
            "pipe_tensor_active": np.round(util * 0.55, 4), "dram_active": np.round(util * 0.7, 4),
            "pcie_tx_bytes": np.round(util * 2.1e8), "pcie_rx_bytes": np.round(util * 3.4e8),
        }
        return fields, killed


def gpu_samples(gpus: list[Gpu], fields: dict[str, np.ndarray], ts: int,
                pods: dict[str, tuple[str, str, str]]) -> dict[str, list[dict]]:
    """GpuSample dicts grouped by node; ``pods`` maps node -> (namespace, pod, container)."""
    out: dict[str, list[dict]] = {}
    cols = {k: v.tolist() for k, v in fields.items()}
    for i, g in enumerate(gpus):
        ns, pod, container = pods.get(g.node, (None, None, None))
        sample = {"ts": ts, "node": g.node, "gpu": g.index, "uuid": g.uuid, "model": g.model,
                  "pci_bus_id": g.pci_bus_id, "mig_profile": None, "mig_instance_id": None,
                  "pod": pod, "namespace": ns, "container": container, "extra": {}}
        for key, values in cols.items():
            sample[key] = float(values[i])
        out.setdefault(g.node, []).append(sample)
    return out


VLLM_MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def declare_state(layout: StateLayout, cluster: Cluster) -> None:
    """State keys of the vLLM server's own metrics (one value per cluster, if it runs one)."""
    n = int(any(s.name == "vllm" for s in cluster.services) and bool(cluster.gpus))
    for key in ("llm_running", "llm_waiting", "llm_cache"):
        layout.add(key, n)


def vllm_state(rps: float, latency_s: float, util: np.ndarray, up: bool) -> dict[str, float]:
    """Requests in flight (Little's law), queued requests and KV-cache usage."""
    running = rps * latency_s if up else 0.0
    return {"llm_running": min(running, 16.0), "llm_waiting": max(running - 16.0, 0.0),
            "llm_cache": float(np.clip(0.1 + 0.8 * util.mean(), 0, 1)) if up and len(util)
            else 0.0}


def add_rows(b: TableBuilder, layout: StateLayout, cluster: Cluster) -> None:
    """``vllm:*`` gauges of the vLLM server (target ``app/llm/vllm``)."""
    if not layout.sizes["llm_running"]:
        return
    lbl = {"model_name": VLLM_MODEL, "namespace": "llm", "service": "vllm"}
    for name, key, text in (
            ("vllm:num_requests_running", "llm_running", "Requests currently running on GPU."),
            ("vllm:num_requests_waiting", "llm_waiting", "Requests waiting to be processed."),
            ("vllm:gpu_cache_usage_perc", "llm_cache", "GPU KV-cache usage (1 = 100%).")):
        b.add("app/llm/vllm", name, "GAUGE", lbl, GAUGE, layout.at(key), noise=0.05, help=text)
