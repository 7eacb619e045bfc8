"""Alerts, anomalies and incidents (with RCA and operator notes) from ClickHouse."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.db import ClickHousePool
from api.queries.sql import Where


def page_of(pool: ClickHousePool, *, table: str, columns: str, where: Where, order: str,
            offset: int, limit: int, final: bool = True) -> tuple[list[dict[str, Any]], int]:
    """One page of rows (as dicts) and the total count; ``table``/``order`` are literals."""
    fin = " FINAL" if final else ""
    total = pool.rows(f"SELECT count() FROM {table}{fin} WHERE {where.sql}", where.params)[0][0]
    if offset >= total:
        return [], int(total)
    params = {**where.params, "_lim": limit, "_off": offset}
    rows = pool.dicts(f"SELECT {columns} FROM {table}{fin} WHERE {where.sql} ORDER BY {order} "
                      "LIMIT {_lim:UInt32} OFFSET {_off:UInt64}", params)
    return rows, int(total)


def filters(*, clusters: list[str] | None, start_ms: int, end_ms: int,
            time_column: str = "timestamp", severities: list[str] | None = None,
            states: list[str] | None = None, state_column: str = "status") -> Where:
    """The common filter set: scope, time, severity and state."""
    w = Where()
    w.clusters(clusters)
    w.time_range(time_column, start_ms, end_ms)
    w.any_of("severity", severities)
    w.any_of(state_column, states)
    return w


ALERT_COLS = ("cluster, fingerprint, status, alertname, severity, labels, annotations,"
              " toUnixTimestamp64Milli(starts_at) AS starts_at,"
              " toUnixTimestamp64Milli(ends_at) AS ends_at, generator_url, receiver,"
              " toUnixTimestamp64Milli(timestamp) AS received_ts")
ANOMALY_COLS = ("anomaly_id, cluster, entity_type, entity, name, labels, series_id, type,"
                " actual, expected, lower, upper, score, confidence, severity, detector, rule,"
                " toUnixTimestamp64Milli(start_ts) AS start_ts,"
                " toUnixTimestamp64Milli(timestamp) AS sample_ts,"
                " toUnixTimestamp64Milli(detected_ts) AS detected_ts")
INCIDENT_COLS = ("incident_id, cluster, status, severity, title,"
                 " toUnixTimestamp64Milli(opened_ts) AS opened_ts,"
                 " toUnixTimestamp64Milli(timestamp) AS updated_ts,"
                 " toUnixTimestamp64Milli(resolved_ts) AS resolved_ts, anomaly_ids,"
                 " alert_fingerprints, entities, namespaces, services, nodes, summary, version")
RCA_COLS = ("report_id, incident_id, cluster, toUnixTimestamp64Milli(timestamp) AS created_ts,"
            " top_entity_type, top_entity, top_score, top_pattern, causes, summary,"
            " probable_cause, impact, remediation, provider, model, persona")


def alerts(pool: ClickHousePool, *, where: Where, offset: int, limit: int
           ) -> tuple[list[dict[str, Any]], int]:
    return page_of(pool, table="alerts", columns=ALERT_COLS, where=where,
                   order="timestamp DESC, fingerprint", offset=offset, limit=limit)


def anomalies(pool: ClickHousePool, *, where: Where, offset: int, limit: int
              ) -> tuple[list[dict[str, Any]], int]:
    return page_of(pool, table="anomalies", columns=ANOMALY_COLS, where=where,
                   order="timestamp DESC, anomaly_id", offset=offset, limit=limit)


def incidents(pool: ClickHousePool, *, where: Where, offset: int, limit: int
              ) -> tuple[list[dict[str, Any]], int]:
    return page_of(pool, table="incidents", columns=INCIDENT_COLS, where=where,
                   order="opened_ts DESC, incident_id", offset=offset, limit=limit)


def incident(pool: ClickHousePool, *, incident_id: str, clusters: list[str] | None
             ) -> dict[str, Any] | None:
    """One incident with its latest RCA report and operator notes (None: not visible)."""
    w = Where()
    w.add("incident_id = {}", incident_id, "String")
    w.clusters(clusters)
    rows = pool.dicts(f"SELECT {INCIDENT_COLS} FROM incidents FINAL WHERE {w.sql} "
                      "ORDER BY version DESC LIMIT 1", w.params)
    if not rows:
        return None
    inc = rows[0]
    r = Where()
    r.add("incident_id = {}", incident_id, "String")
    r.add("cluster = {}", inc["cluster"], "String")
    reports = pool.dicts(f"SELECT {RCA_COLS} FROM rca_reports FINAL WHERE {r.sql} "
                         "ORDER BY timestamp DESC LIMIT 1", r.params)
    inc["rca"] = reports[0] if reports else None
    inc["notes"] = pool.dicts(
        "SELECT toUnixTimestamp64Milli(timestamp) AS ts, kind, author, text FROM incident_notes"
        f" WHERE {r.sql} ORDER BY timestamp", r.params)
    return inc


def add_note(pool: ClickHousePool, *, incident_id: str, cluster: str, kind: str, author: str,
             text: str, ts_ms: int) -> None:
    when = datetime.fromtimestamp(ts_ms / 1000, UTC)
    pool.insert("incident_notes", [[when, incident_id, cluster, kind, author, text]],
                ["timestamp", "incident_id", "cluster", "kind", "author", "text"])
