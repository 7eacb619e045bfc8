"""The ``RcaReport`` record of one incident version.

>>> report_id("inc-1", 3)
'inc-1/v3'
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any


def report_id(incident_id: str, version: int) -> str:
    """Stable report id: incident id and incident version."""
    return f"{incident_id}/v{int(version)}"


def build(incident: Mapping[str, Any], causes: Sequence[Mapping[str, Any]],
          explained: Mapping[str, Any], latency_ms: float) -> dict[str, Any]:
    """The report; ``explained`` is ``ExplainResult.report_fields()``."""
    return {
        "report_id": report_id(str(incident["incident_id"]), int(incident["version"])),
        "incident_id": str(incident["incident_id"]), "cluster": str(incident["cluster"]),
        "created_ts": int(time.time() * 1000), "causes": [dict(c) for c in causes],
        **dict(explained), "latency_ms": float(latency_ms),
    }
