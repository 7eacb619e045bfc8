"""Telco CNF nodes: PTP (linuxptp-daemon), SR-IOV virtual functions and DPDK ports.

A locked PTP port keeps its offset within tens of nanoseconds (clock class 6). When the
upstream time source is lost the clock first enters HOLDOVER (class 7) and drifts, then falls
to FREERUN (class 248) with offsets of microseconds; the DU on the node then starts failing.
Clock states follow ``openshift_ptp_clock_state``: 0 FREERUN, 1 LOCKED, 2 HOLDOVER.
"""

from __future__ import annotations

import numpy as np

from streams.simulator.series import GAUGE, RATE, StateLayout, TableBuilder
from streams.simulator.topology import Cluster

FREERUN, LOCKED, HOLDOVER = 0.0, 1.0, 2.0
CLASS = {LOCKED: 6.0, HOLDOVER: 7.0, FREERUN: 248.0}
PF = "ens2f0"


class PtpModel:
    """Offsets, states and clock classes of every PTP port of a cluster."""

    def __init__(self, cluster: Cluster) -> None:
        self.ports = [(n.name, iface) for n in cluster.nodes for iface in n.ptp_ifaces]
        n = len(self.ports)
        self.state = np.full(n, LOCKED)
        self.lost_s = np.zeros(n)
        self.drift = np.zeros(n)

    def step(self, dt: float, lost: np.ndarray, holdover_s: np.ndarray,
             z: np.ndarray) -> dict[str, np.ndarray]:
        """One tick; ``lost`` marks ports whose upstream source is gone, ``z`` shape (2, n)."""
        self.lost_s = np.where(lost > 0, self.lost_s + dt, 0.0)
        self.state = np.where(lost > 0, np.where(self.lost_s <= holdover_s, HOLDOVER, FREERUN),
                              LOCKED)
        self.drift = np.where(self.state == LOCKED, 0.0, self.drift + 4.0 * dt)
        offset = np.where(self.state == LOCKED, 12.0 * z[0],
                          np.where(self.state == HOLDOVER, self.drift + 30 * z[0],
                                   1500.0 + 25.0 * self.drift * (1 + 0.1 * z[0])))
        return {
            "ptp_offset": np.round(offset),
            "ptp_max_offset": np.round(np.abs(offset) * 1.6 + 5),
            "ptp_freq": np.round(-11800.0 + 40.0 * z[1] + np.where(self.state == LOCKED, 0,
                                                                   900.0)),
            "ptp_delay": np.round(520.0 + 3.0 * z[1]),
            "ptp_state": self.state.copy(),
            "ptp_class": np.array([CLASS[s] for s in self.state.tolist()]),
            "phc_offset": np.round(np.where(self.state == LOCKED, 3.0 * z[1], offset * 0.4)),
        }


def declare_state(layout: StateLayout, cluster: Cluster) -> None:
    """State keys of the CNF series."""
    n = sum(len(node.ptp_ifaces) for node in cluster.nodes)
    for key in ("ptp_offset", "ptp_max_offset", "ptp_freq", "ptp_delay", "ptp_state",
                "ptp_class", "phc_offset"):
        layout.add(key, n)


def add_rows(b: TableBuilder, layout: StateLayout, cluster: Cluster, du_pods: dict[str, str],
             ) -> None:
    """PTP, SR-IOV and DPDK series; rates follow the DU's packet rate (``svc_rps`` of du-app)."""
    k = 0
    du_index = next((i for i, s in enumerate(cluster.services) if s.name == "du-app"), None)
    for node in cluster.nodes:
        for iface in node.ptp_ifaces:
            target = f"ptp-monitor/{node.name}"
            base = {"node": node.name, "iface": iface, "process": "ptp4l"}
            pairs = (("openshift_ptp_offset_ns", "ptp_offset", "PTP offset from master (ns)."),
                     ("openshift_ptp_max_offset_ns", "ptp_max_offset", "Max PTP offset (ns)."),
                     ("openshift_ptp_frequency_adjustment_ns", "ptp_freq",
                      "PTP frequency adjustment (ns)."),
                     ("openshift_ptp_delay_ns", "ptp_delay", "PTP path delay (ns)."))
            for name, key, text in pairs:
                b.add(target, name, "GAUGE", {**base, "from": "master"}, GAUGE,
                      layout.at(key, k), help=text)
            b.add(target, "openshift_ptp_clock_state", "GAUGE", base, GAUGE,
                  layout.at("ptp_state", k),
                  help="0 = FREERUN, 1 = LOCKED, 2 = HOLDOVER.")
            b.add(target, "openshift_ptp_clock_class", "GAUGE", base, GAUGE,
                  layout.at("ptp_class", k), help="PTP clock class (6 locked, 7 holdover, 248).")
            b.add(target, "openshift_ptp_offset_ns", "GAUGE",
                  {"node": node.name, "iface": "CLOCK_REALTIME", "process": "phc2sys",
                   "from": "phc"}, GAUGE, layout.at("phc_offset", k))
            k += 1
        if du_index is None:
            continue
        rps = layout.at("svc_rps", du_index)
        pod = du_pods.get(node.name, "")
        for vf in range(node.sriov_vfs):
            target = f"sriov-network-metrics-exporter/{node.name}"
            lbl = {"node": node.name, "pf": PF, "vf": str(vf), "namespace": "vran", "pod": pod,
                   "pciAddr": f"0000:3b:0{2 + vf // 8}.{vf % 8}"}
            for name, scale in (("sriov_vf_rx_bytes", 1200.0), ("sriov_vf_tx_bytes", 1100.0),
                                ("sriov_vf_rx_packets", 1.0), ("sriov_vf_tx_packets", 0.95)):
                b.add(target, name, "COUNTER", lbl, RATE, rps, scale=scale, noise=0.03,
                      help=f"SR-IOV VF {name.split('_', 2)[2].replace('_', ' ')}.")
            b.add(target, "sriov_vf_rx_dropped", "COUNTER", lbl, RATE,
                  layout.at("svc_rps_err", du_index), scale=0.5)
        for port in range(node.dpdk_ports):
            target = f"dpdk-telemetry/{node.name}"
            lbl = {"node": node.name, "port": str(port), "namespace": "vran", "pod": pod}
            b.add(target, "dpdk_port_rx_packets_total", "COUNTER", lbl, RATE, rps, scale=2.0,
                  noise=0.02, help="DPDK ethdev received packets.")
            b.add(target, "dpdk_port_tx_packets_total", "COUNTER", lbl, RATE, rps, scale=1.9,
                  noise=0.02, help="DPDK ethdev transmitted packets.")
            b.add(target, "dpdk_port_rx_missed_total", "COUNTER", lbl, RATE,
                  layout.at("svc_rps_err", du_index), scale=2.0,
                  help="DPDK ethdev packets dropped by the NIC (imissed).")
