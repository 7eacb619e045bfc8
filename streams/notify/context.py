"""Incident context for RCA reports: the latest incident and RCA per incident id (bounded).

An RCA report names only its incident; routing and payloads need the incident's
severity, namespaces and services. They come from the incidents this worker saw, else
from ClickHouse's ``incidents`` table (written by ``aiops sink``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from clickhouse_connect.driver.client import Client

INCIDENT_FIELDS = ["incident_id", "cluster", "status", "severity", "title", "opened_ts",
                   "updated_ts", "resolved_ts", "anomaly_ids", "alert_fingerprints", "entities",
                   "namespaces", "services", "nodes", "summary", "version"]


class IncidentContext:
    """Latest incident record and RCA report per incident id."""

    def __init__(self, client: Client, database: str, capacity: int = 10_000) -> None:
        self.client, self.db, self.capacity = client, database, capacity
        self.incidents: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.rcas: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def _put(self, table: OrderedDict[str, dict[str, Any]], key: str,
             rec: dict[str, Any]) -> None:
        table[key] = rec
        table.move_to_end(key)
        while len(table) > self.capacity:
            table.popitem(last=False)

    def add_incident(self, rec: dict[str, Any]) -> None:
        self._put(self.incidents, rec["incident_id"], rec)

    def add_rca(self, rec: dict[str, Any]) -> None:
        self._put(self.rcas, rec["incident_id"], rec)

    def rca(self, incident_id: str) -> dict[str, Any] | None:
        return self.rcas.get(incident_id)

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        """The incident from memory, else from ClickHouse history (None when unknown)."""
        if incident_id in self.incidents:
            return self.incidents[incident_id]
        rows = self.client.query(
            "SELECT incident_id, cluster, status, severity, title, toUnixTimestamp64Milli("
            "opened_ts), toUnixTimestamp64Milli(timestamp), toUnixTimestamp64Milli(resolved_ts),"
            " anomaly_ids, alert_fingerprints, entities, namespaces, services, nodes, summary,"
            f" version FROM `{self.db}`.incidents FINAL WHERE incident_id = {{i:String}}",
            parameters={"i": incident_id}).result_rows
        return dict(zip(INCIDENT_FIELDS, rows[0], strict=True)) if rows else None
