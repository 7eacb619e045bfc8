"""Table families: decoded Avro records of one topic -> pyarrow Tables per ClickHouse table."""

from __future__ import annotations

from connectors.sinks.tables.alerts import AlertsFamily
from connectors.sinks.tables.anomalies import AnomaliesFamily
from connectors.sinks.tables.base import TableFamily
from connectors.sinks.tables.clusters import ClustersFamily
from connectors.sinks.tables.dead_letters import DeadLettersFamily
from connectors.sinks.tables.gpu import GpuFamily
from connectors.sinks.tables.incidents import IncidentsFamily
from connectors.sinks.tables.logs import LogsFamily
from connectors.sinks.tables.metrics import MetricsFamily
from connectors.sinks.tables.rca import RcaFamily
from connectors.sinks.tables.spans import SpansFamily

FAMILIES: dict[str, type[TableFamily]] = {
    cls.schema: cls
    for cls in (MetricsFamily, GpuFamily, LogsFamily, SpansFamily, AlertsFamily,
                AnomaliesFamily, IncidentsFamily, RcaFamily, ClustersFamily, DeadLettersFamily)
}


def family_for(schema: str) -> TableFamily:
    """A new family instance for an Avro schema name (``metric_batch`` ...)."""
    try:
        return FAMILIES[schema]()
    except KeyError:
        raise KeyError(f"no ClickHouse table family for schema {schema!r}") from None
