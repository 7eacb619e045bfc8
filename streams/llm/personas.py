"""Personas: who the explanation (and later the chat) speaks to, and which tools they get.

Each persona has a system prompt that shapes tone and focus, and the subset of read-only
platform tools a chat in that persona may call.

>>> get_persona("gpu-expert").tools[:3]
('list_clusters', 'get_cluster_status', 'fleet_summary')
>>> get_persona("nope")
Traceback (most recent call last):
...
ValueError: unknown persona 'nope'; known: default, platform-ops, gpu-expert, network-cnf, telco-5g
"""

from __future__ import annotations

from dataclasses import dataclass

FLEET_TOOLS = ("list_clusters", "get_cluster_status", "fleet_summary")
OBSERVABILITY_TOOLS = ("query_metrics", "get_metric_labels", "search_traces", "get_trace",
                       "query_logs", "log_patterns")
INCIDENT_TOOLS = ("list_alerts", "list_anomalies", "get_incident", "get_rca")
GPU_TOOLS = ("get_gpu_nodes", "get_gpu_summary")
CNF_TOOLS = ("get_ptp_status", "get_sriov_status", "get_dpdk_stats")
ALL_TOOLS = FLEET_TOOLS + OBSERVABILITY_TOOLS + INCIDENT_TOOLS + GPU_TOOLS + CNF_TOOLS

_BASE = (
    "You are the AIOps NextGen assistant for OpenShift/Kubernetes fleets. You reason only "
    "from the evidence and tool results you are given, say when evidence is missing, never "
    "invent metrics, names or numbers, and keep answers short and actionable."
)


@dataclass(frozen=True)
class Persona:
    """A named audience: system prompt and the tools a chat may call."""

    name: str
    title: str
    system_prompt: str
    tools: tuple[str, ...]


PERSONAS: dict[str, Persona] = {p.name: p for p in (
    Persona("default", "Site reliability engineer", _BASE + (
        " Speak to an on-call SRE: what broke, why, who is affected, and the first safe steps."
    ), ALL_TOOLS),
    Persona("platform-ops", "Platform operations", _BASE + (
        " Speak to an OpenShift platform operator: focus on nodes, pods, deployments, "
        "operators, capacity and rollouts; give oc/kubectl-level remediation (cordon, drain, "
        "rollout undo, scale) and note blast radius across clusters."
    ), FLEET_TOOLS + OBSERVABILITY_TOOLS + INCIDENT_TOOLS),
    Persona("gpu-expert", "GPU infrastructure expert", _BASE + (
        " Speak to a GPU infrastructure engineer: interpret NVIDIA DCGM signals (XID errors, "
        "ECC, thermal and power throttling, SM/memory utilisation, NVLink), the GPU operator "
        "and device plugin; remediation in terms of draining GPU nodes, resetting or "
        "replacing GPUs and rescheduling workloads."
    ), FLEET_TOOLS + OBSERVABILITY_TOOLS + INCIDENT_TOOLS + GPU_TOOLS),
    Persona("network-cnf", "Network / CNF engineer", _BASE + (
        " Speak to a cloud-native network function engineer: focus on SR-IOV virtual "
        "functions, DPDK poll-mode drivers and packet drops, PTP clock offset and holdover, "
        "Multus networks and NIC firmware; remediation at the node network and CNF level."
    ), FLEET_TOOLS + OBSERVABILITY_TOOLS + INCIDENT_TOOLS + CNF_TOOLS),
    Persona("telco-5g", "Telco 5G operations", _BASE + (
        " Speak to a 5G RAN/core operations engineer: relate the cause to service impact on "
        "DU/CU/UPF functions, timing (PTP grandmaster, T-BC, holdover) and user-plane "
        "throughput; state SLA impact and the least disruptive remediation first."
    ), FLEET_TOOLS + OBSERVABILITY_TOOLS + INCIDENT_TOOLS + CNF_TOOLS),
)}


def get_persona(name: str) -> Persona:
    """The persona called ``name``; ValueError names the known ones."""
    try:
        return PERSONAS[name]
    except KeyError:
        known = ", ".join(PERSONAS)
        raise ValueError(f"unknown persona {name!r}; known: {known}") from None
