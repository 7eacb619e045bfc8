"""Deterministic explanation from ranked causes (no LLM): same input, same words.

Remediation comes from a keyword table over the top cause's pattern, entity type and
evidence kinds, plus one persona-specific step. Evidence descriptions (telemetry text) are
only ever cited inside quotes after their kind and ref, never used as sentences of their own.

>>> cause = {"rank": 1, "entity_type": "GPU", "entity": "node-a/GPU-0", "score": 0.9,
...          "pattern": "gpu_xid_crash", "evidence": [{"kind": "ANOMALY", "ref": "a1",
...          "description": "XID 79 on GPU-0", "onset_ts": None, "magnitude": 0.9}]}
>>> e = template_explanation([cause], "gpu-expert")
>>> e["summary"].split("; ")[1]
'most probable: GPU node-a/GPU-0 (score 0.90, pattern gpu_xid_crash).'
>>> e["remediation"][0]
'Cordon the affected GPU node so no new GPU workloads land on it.'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_STEPS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("xid", "ecc", "gpu", "dcgm", "nvlink", "thermal"), (
        "Cordon the affected GPU node so no new GPU workloads land on it.",
        "Check DCGM XID/ECC counters and `nvidia-smi -q` on the node for the failing GPU.",
        "Drain GPU workloads, reset or replace the GPU, then uncordon once errors stop.",
    )),
    (("ptp", "clock", "holdover", "offset"), (
        "Check linuxptp-daemon (ptp4l/phc2sys) logs and the clock offset on the node.",
        "Verify the upstream grandmaster/boundary clock is reachable and locked.",
        "Keep timing-sensitive workloads off the node until the offset is back in range.",
    )),
    (("sriov", "dpdk", "vf", "nic", "packet", "drop", "network"), (
        "Check SR-IOV VF allocation and NIC link state on the node "
        "(SriovNetworkNodeState, `ip link`).",
        "Inspect DPDK port statistics for drops or missed packets and the CNF's PMD threads.",
        "Restart or reschedule the affected CNF pod onto a healthy node if drops persist.",
    )),
    (("oom", "memory"), (
        "Check the container's memory usage against its limit and recent OOM kills.",
        "Raise the memory limit or roll back the change that increased usage.",
    )),
    (("crash", "restart", "crashloop", "backoff"), (
        "Read the previous container's logs (`oc logs --previous`) of the failing pod.",
        "Roll back the most recent deployment change if the crashes started after it.",
    )),
    (("deploy", "rollout", "release", "config"), (
        "Compare the incident onset with the latest rollout or config change.",
        "Roll back the deployment (`oc rollout undo`) if the change lines up with the onset.",
    )),
    (("latency", "error", "5xx", "timeout", "http", "trace"), (
        "Follow the slowest/failing spans of the evidence traces to the first failing callee.",
        "Check that callee's saturation (CPU, connections, queue depth) and recent changes.",
    )),
)

_BY_TYPE: dict[str, str] = {
    "NODE": "Check node conditions and pressure (`oc describe node`) and kubelet logs.",
    "POD": "Describe the pod (`oc describe pod`) for events, restarts and probe failures.",
    "SERVICE": "Check the service's error rate and latency against its dependencies.",
    "DEPLOYMENT": "Check the deployment's rollout history and replica availability.",
    "GPU": "Check the GPU's DCGM health on its node.",
    "PTP_CLOCK": "Check the PTP clock state and offset on its node.",
    "CLUSTER": "Check cluster operators (`oc get clusteroperators`) for degraded ones.",
}

_PERSONA_STEP: dict[str, str] = {
    "default": "Confirm recovery on the evidence signals before closing the incident.",
    "platform-ops": "Check the other clusters of the fleet for the same pattern.",
    "gpu-expert": "Confirm GPU workloads rescheduled and GPU utilisation recovered.",
    "network-cnf": "Confirm packet rates, drops and PTP offset recovered on the CNF nodes.",
    "telco-5g": "Confirm DU/CU/UPF service KPIs and timing recovered; record SLA impact.",
}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _steps(cause: Mapping[str, Any]) -> list[str]:
    words = " ".join([cause["pattern"], cause["entity_type"],
                      *(e["kind"] + " " + e["description"] for e in cause["evidence"][:3])])
    haystack = words.lower().replace("-", "").replace("_", " ")
    for keys, steps in _STEPS:
        if any(k in haystack for k in keys):
            return list(steps)
    return [_BY_TYPE.get(cause["entity_type"], "Inspect the entity's recent changes and "
                                                "signals listed as evidence.")]


def template_explanation(causes: Sequence[Mapping[str, Any]], persona: str) -> dict[str, Any]:
    """An ``Explanation`` dict from normalised ranked causes (best first)."""
    if not causes:
        return {
            "summary": "No candidate root cause was ranked for this incident.",
            "probable_cause": "Unknown: the incident window holds no ranked evidence.",
            "impact": "Unknown from the available evidence.",
            "remediation": [
                "Inspect the incident's alerts and anomalies directly.",
                "Widen the analysis window or check that telemetry from the cluster arrives.",
                _PERSONA_STEP.get(persona, _PERSONA_STEP["default"]),
            ],
        }
    top = causes[0]
    pattern = f", pattern {top['pattern']}" if top["pattern"] else ""
    plural = "cause" if len(causes) == 1 else "causes"
    summary = (f"{len(causes)} candidate root {plural} ranked; most probable: "
               f"{top['entity_type']} {top['entity']} (score {top['score']:.2f}{pattern}).")
    facts = [f"{e['kind']} {e['ref']}: \"{_clip(e['description'], 200)}\""
             for e in top["evidence"][:3]]
    probable = f"{top['entity_type']} {top['entity']}" + (
        f" matches the known pattern {top['pattern']}." if top["pattern"] else
        " has the strongest evidence.")
    if facts:
        probable += " Evidence: " + "; ".join(facts) + "."
    others = [f"{c['entity_type']} {c['entity']} (score {c['score']:.2f})" for c in causes[1:4]]
    impact = f"{top['entity_type']} {top['entity']} is affected"
    impact += (", with other candidates: " + ", ".join(others) + ".") if others else "."
    kinds = sorted({e["kind"] for c in causes for e in c["evidence"]})
    if kinds:
        impact += " Signals: " + ", ".join(kinds) + "."
    remediation = _steps(top)
    remediation.append(_PERSONA_STEP.get(persona, _PERSONA_STEP["default"]))
    return {"summary": _clip(summary, 2000), "probable_cause": _clip(probable, 2000),
            "impact": _clip(impact, 2000), "remediation": [_clip(s, 600) for s in remediation]}
