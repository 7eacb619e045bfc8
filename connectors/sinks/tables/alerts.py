"""aiops.alerts -> ``alerts`` (one row per alert state received)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from connectors.sinks.tables.base import MS, STR_MAP, TableFamily, records_table

SPEC = {
    "timestamp": ("received_ts", MS),
    "starts_at": ("starts_at", MS),
    "ends_at": ("ends_at", MS),
    "cluster": ("cluster", pa.string()),
    "fingerprint": ("fingerprint", pa.string()),
    "status": ("status", pa.string()),
    "alertname": ("alertname", pa.string()),
    "severity": ("severity", pa.string()),
    "labels": ("labels", STR_MAP),
    "annotations": ("annotations", STR_MAP),
    "generator_url": ("generator_url", pa.string()),
    "receiver": ("receiver", pa.string()),
    "group_key": ("group_key", pa.string()),
}


class AlertsFamily(TableFamily):
    """Alert records, one row each."""

    schema = "alert"
    tables = ("alerts",)

    def to_arrow(self, decoded: Sequence[dict[str, Any]]) -> dict[str, pa.Table]:
        return {"alerts": records_table(decoded, SPEC)}
