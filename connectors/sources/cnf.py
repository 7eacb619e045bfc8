"""Telco CNF telemetry through Prometheus: PTP (linuxptp-daemon), SR-IOV VFs, DPDK ports.

A ``source: cnf`` job pulls the curated selector set :data:`CURATED_SELECTORS`
through ``/federate`` of the cluster's Prometheus/Thanos (or scrapes a
linuxptp-daemon / exporter endpoint directly when ``metrics_path`` and
``params`` say so). On the way through:

* the upstream ``node_ptp_*`` prefix is aliased to ``openshift_ptp_*``;
* a PTP offset/delay/frequency reading of +-999999 (linuxptp-daemon's
  faulty-port sentinel) becomes NaN (missing) and an extra sample
  ``aiops_ptp_faulty_port`` = 1 with the same labels plus ``metric`` marks it;
* ``openshift_ptp_clock_state`` / ``interface_role`` / ``process_status`` keep
  their numeric values; :data:`CLOCK_STATES` and :data:`INTERFACE_ROLES` decode them.
"""

from __future__ import annotations

from connectors.publish.columnar import SeriesEntry
from connectors.sources.prometheus import PrometheusSource

PTP_PREFIX = "openshift_ptp_"
UPSTREAM_PTP_PREFIX = "node_ptp_"
FAULTY_PORT_SENTINEL = 999999.0
FAULTY_MARKER = "aiops_ptp_faulty_port"
CLOCK_STATES = {0: "FREERUN", 1: "LOCKED", 2: "HOLDOVER"}
INTERFACE_ROLES = {0: "PASSIVE", 1: "SLAVE", 2: "MASTER", 3: "FAULTY", 4: "UNKNOWN",
                   5: "LISTENING"}
PROCESS_STATUS = {0: "DOWN", 1: "UP"}
# readings where linuxptp-daemon writes the faulty-port sentinel
SENTINEL_METRICS = frozenset(PTP_PREFIX + n for n in (
    "offset_ns", "max_offset_ns", "delay_ns", "frequency_adjustment_ns"))

# The curated selector set (Prometheus match[] selectors), by family.
PTP_METRICS = (
    "offset_ns", "max_offset_ns", "delay_ns", "frequency_adjustment_ns", "clock_state",
    "clock_class", "interface_role", "process_status", "process_restart_count", "threshold",
)
SRIOV_METRICS = (
    "sriov_vf_rx_bytes", "sriov_vf_tx_bytes", "sriov_vf_rx_packets", "sriov_vf_tx_packets",
    "sriov_vf_rx_dropped", "sriov_vf_tx_dropped", "sriov_vf_rx_errors", "sriov_vf_tx_errors",
    "sriov_vf_rx_broadcast", "sriov_vf_rx_multicast", "sriov_kubepoddevice",
)
DPDK_METRICS = (
    "dpdk_ethdev_ipackets", "dpdk_ethdev_opackets", "dpdk_ethdev_ibytes", "dpdk_ethdev_obytes",
    "dpdk_ethdev_imissed", "dpdk_ethdev_ierrors", "dpdk_ethdev_oerrors",
    "dpdk_ethdev_rx_nombuf", "dpdk_ethdev_link_status",
)


def _regex(names: tuple[str, ...]) -> str:
    return "|".join(names)


CURATED_SELECTORS: dict[str, list[str]] = {
    "ptp": [f'{{__name__=~"({PTP_PREFIX}|{UPSTREAM_PTP_PREFIX})({_regex(PTP_METRICS)})"}}'],
    "sriov": [f'{{__name__=~"{_regex(SRIOV_METRICS)}"}}'],
    "dpdk": [f'{{__name__=~"{_regex(DPDK_METRICS)}"}}'],
}


def curated_match() -> list[str]:
    """Every curated selector, for ``/federate?match[]=...``."""
    return [sel for sels in CURATED_SELECTORS.values() for sel in sels]


def canonical_name(name: str) -> str:
    """``node_ptp_*`` -> ``openshift_ptp_*``; other names unchanged.

    >>> canonical_name("node_ptp_offset_ns"), canonical_name("sriov_vf_rx_bytes")
    ('openshift_ptp_offset_ns', 'sriov_vf_rx_bytes')
    """
    if name.startswith(UPSTREAM_PTP_PREFIX):
        return PTP_PREFIX + name[len(UPSTREAM_PTP_PREFIX):]
    return name


class CnfSource(PrometheusSource):
    """Curated CNF selectors via federation, with PTP aliasing and sentinel marking."""

    kind = "cnf"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind = "cnf"
        if not self.job.params:
            self.job = self.job.model_copy(update={"params": {"match[]": curated_match()}})
            if self.job.metrics_path == "/metrics":
                self.job = self.job.model_copy(update={"metrics_path": "/federate"})
        self._markers: dict[int, SeriesEntry] = {}

    def rename(self, name: str, labels: dict[str, str]) -> tuple[str, dict[str, str]]:
        return canonical_name(name), labels

    def adjust(self, entries: list[SeriesEntry], values: list[float],
               timestamps: list[int]) -> None:
        for i in range(len(entries)):
            entry = entries[i]
            if entry.name in SENTINEL_METRICS and abs(values[i]) == FAULTY_PORT_SENTINEL:
                values[i] = float("nan")
                marker = self._markers.get(entry.series_id)
                if marker is None:
                    marker = SeriesEntry.build(self.cluster, FAULTY_MARKER,
                                               {**entry.labels, "metric": entry.name}, "GAUGE")
                    self._markers[entry.series_id] = marker
                entries.append(marker)
                values.append(1.0)
                timestamps.append(timestamps[i])
