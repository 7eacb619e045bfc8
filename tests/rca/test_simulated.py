"""End to end on the simulator: our detectors build the context, the ranking names the
injected root cause and the causal pattern that links it to its effects."""

from __future__ import annotations

import pytest

from streams.evaluation.simulated import run_case
from streams.rca import rank

CASES = [
    ("gpu_xid_error", "GPU", "gpu_xid_crash"),
    ("ptp_freerun", "PTP_CLOCK", "ptp_freerun_du"),
    ("memory_leak", "POD", "oomkill_restarts"),
    ("bad_deployment", "DEPLOYMENT", "deployment_change_errors"),
    ("cpu_saturation", "POD", ""),
    ("cluster_dark", "CLUSTER", ""),
]


@pytest.mark.parametrize(("kind", "entity_type", "pattern"), CASES)
def test_simulated_fault_is_ranked_first(kind: str, entity_type: str, pattern: str) -> None:
    case = run_case(kind, seed=1)
    causes = rank(case.context)
    top = causes[0]
    assert top["entity_type"] == entity_type, causes[:3]
    # A bad deployment is reported on its Deployment; the truth names the service.
    assert top["entity"] == case.fault.root_cause, causes[:3]
    assert top["pattern"] == pattern
    assert top["evidence"], top
