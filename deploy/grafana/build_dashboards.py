"""Grafana dashboards as code: writes deploy/grafana/dashboards/*.json.

Every panel is raw SQL for the Grafana ClickHouse data source (plugin v4) over the
tables of deploy/clickhouse/. Run `python deploy/grafana/build_dashboards.py`; a
test fails if the JSON drifts from this file, and another runs every panel's SQL
(macros expanded) against ClickHouse loaded with simulated fleet data.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "grafana-clickhouse-datasource", "uid": "aiops-clickhouse"}
# Plugin v4 formats and query types.
FORMAT = {"timeseries": 0, "table": 1, "logs": 2, "traces": 3}
CLUSTERS = "cluster IN (${cluster:singlequote})"


def target(sql: str, kind: str, ref: str = "A") -> dict:
    return {"datasource": DS, "editorType": "sql", "format": FORMAT[kind],
            "queryType": kind, "rawSql": " ".join(sql.split()), "refId": ref}


def panel(title: str, ptype: str, sql: str, kind: str, x: int, y: int, w: int = 12,
          h: int = 8, **extra: object) -> dict:
    return {"type": ptype, "title": title, "datasource": DS,
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "targets": [target(sql, kind)], **extra}


def cluster_var() -> dict:
    return {"name": "cluster", "label": "Cluster", "type": "query", "datasource": DS,
            "query": "SELECT DISTINCT name FROM clusters FINAL WHERE is_deleted = 0 ORDER BY name",
            "multi": True, "includeAll": True, "current": {"text": "All", "value": "$__all"},
            "refresh": 2}


def dashboard(uid: str, title: str, panels: list[dict], extra_vars: list[dict] = ()) -> dict:
    for i, p in enumerate(panels, start=1):
        p["id"] = i
    return {
        "uid": uid, "title": title, "tags": ["aiops-nextgen"], "timezone": "utc",
        "schemaVersion": 39, "version": 1, "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [cluster_var(), *extra_vars]},
        "panels": panels,
    }


def fleet() -> dict:
    return dashboard("aiops-fleet", "AIOps / Fleet overview", [
        panel("Clusters by state", "piechart", """
            SELECT status, count() AS clusters FROM clusters FINAL
            WHERE is_deleted = 0 AND $__conditionalAll(name IN (${cluster:singlequote}), $cluster)
            GROUP BY status ORDER BY status""", "table", 0, 0, 8),
        panel("Cluster health", "table", """
            SELECT name, type, environment, region, status, round(health_score, 2) AS health,
                   gpu_count, has_ptp, last_seen
            FROM clusters FINAL
            WHERE is_deleted = 0 AND $__conditionalAll(name IN (${cluster:singlequote}), $cluster)
            ORDER BY health_score ASC, name""", "table", 8, 0, 16),
        panel("Anomalies by cluster", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time, cluster, count() AS anomalies
            FROM anomalies
            WHERE $__timeFilter(timestamp) AND $__conditionalAll({CLUSTERS}, $cluster)
            GROUP BY time, cluster ORDER BY time""", "timeseries", 0, 8),
        panel("Incidents opened by cluster", "timeseries", f"""
            SELECT $__timeInterval(opened_ts) AS time, cluster, uniqExact(incident_id) AS incidents
            FROM incidents
            WHERE $__timeFilter(opened_ts) AND $__conditionalAll({CLUSTERS}, $cluster)
            GROUP BY time, cluster ORDER BY time""", "timeseries", 12, 8),
    ])


def gpu() -> dict:
    where = f"$__timeFilter(timestamp) AND $__conditionalAll({CLUSTERS}, $cluster)"
    return dashboard("aiops-gpu", "AIOps / GPU fleet", [
        panel("GPU utilisation by node", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time, node, avg(gpu_util) AS util_pct
            FROM gpu WHERE {where} GROUP BY time, node ORDER BY time""", "timeseries", 0, 0),
        panel("Framebuffer used (MiB)", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time, concat(node, '/', toString(gpu)) AS gpu,
                   avg(fb_used_mib) AS used_mib
            FROM gpu WHERE {where} GROUP BY time, gpu ORDER BY time""", "timeseries", 12, 0),
        panel("Temperature (C)", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time, concat(node, '/', toString(gpu)) AS gpu,
                   max(gpu_temp_c) AS temp_c
            FROM gpu WHERE {where} GROUP BY time, gpu ORDER BY time""", "timeseries", 0, 8),
        panel("Power (W)", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time, node, sum(power_w) AS watts
            FROM gpu WHERE {where} GROUP BY time, node ORDER BY time""", "timeseries", 12, 8),
        panel("XID / ECC events per GPU", "table", f"""
            SELECT cluster, node, uuid, model, any(pod) AS pod, any(namespace) AS namespace,
                   max(xid_last) AS last_xid, max(ecc_dbe_volatile_total) AS ecc_dbe,
                   max(remapped_rows_uncorrectable) AS remapped_uncorrectable
            FROM gpu WHERE {where}
            GROUP BY cluster, node, uuid, model ORDER BY last_xid DESC, ecc_dbe DESC""",
              "table", 0, 16, 24),
    ])


def services() -> dict:
    where = f"$__timeFilter(timestamp) AND $__conditionalAll({CLUSTERS}, $cluster)"
    return dashboard("aiops-services", "AIOps / Service RED and dependencies", [
        panel("Request rate by service", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time, service,
                   count() / $__interval_s AS requests_per_s
            FROM spans WHERE {where} AND kind = 'SERVER'
            GROUP BY time, service ORDER BY time""", "timeseries", 0, 0, 8),
        panel("Error ratio by service", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time, service,
                   countIf(status_code = 'ERROR') / count() AS error_ratio
            FROM spans WHERE {where} AND kind = 'SERVER'
            GROUP BY time, service ORDER BY time""", "timeseries", 8, 0, 8),
        panel("p99 latency by service (ms)", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time, service,
                   quantile(0.99)(duration_ns) / 1e6 AS p99_ms
            FROM spans WHERE {where} AND kind = 'SERVER'
            GROUP BY time, service ORDER BY time""", "timeseries", 16, 0, 8),
        panel("Service dependency graph (edges)", "table", f"""
            SELECT parent_service AS source, child_service AS target,
                   sum(e.calls) AS total_calls, sum(e.errors) AS total_errors,
                   round(sum(e.duration_ns_sum) / greatest(sum(e.calls), 1) / 1e6, 2) AS mean_ms
            FROM service_edges AS e WHERE {where}
            GROUP BY source, target ORDER BY total_calls DESC""", "table", 0, 8, 12),
        panel("Slow traces", "traces", f"""
            SELECT traceID, spanID, parentSpanID, serviceName, operationName, startTime,
                   duration, tags, serviceTags
            FROM grafana_traces WHERE {where} AND parentSpanID = ''
            ORDER BY duration DESC LIMIT 20""", "traces", 12, 8, 12),
    ])


def logs() -> dict:
    where = f"$__timeFilter(timestamp) AND $__conditionalAll({CLUSTERS}, $cluster)"
    return dashboard("aiops-logs", "AIOps / Logs and patterns", [
        panel("Log lines by level", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time, level, count() AS lines
            FROM logs WHERE {where} GROUP BY time, level ORDER BY time""", "timeseries", 0, 0),
        panel("Top templates", "table", f"""
            SELECT p.app AS app, p.template_id AS template_id, t.template AS template,
                   p.lines AS lines, p.example AS example, p.errors AS errors
            FROM (SELECT app, template_id, count() AS lines, any(body) AS example,
                         countIf(level IN ('ERROR', 'FATAL')) AS errors
                  FROM logs WHERE {where} GROUP BY app, template_id
                  ORDER BY lines DESC LIMIT 50) AS p
            LEFT JOIN (SELECT template_id, anyLast(template) AS template FROM log_templates
                       GROUP BY template_id) AS t ON t.template_id = p.template_id
            ORDER BY lines DESC""", "table", 12, 0),
        panel("Error logs", "logs", f"""
            SELECT timestamp, body, level, cluster, namespace, pod, trace_id
            FROM logs WHERE {where} AND level IN ('ERROR', 'FATAL')
            ORDER BY timestamp DESC LIMIT 500""", "logs", 0, 8, 24, 10),
    ])


def cnf() -> dict:
    where = f"$__timeFilter(timestamp) AND $__conditionalAll({CLUSTERS}, $cluster)"
    return dashboard("aiops-cnf", "AIOps / CNF and PTP timing", [
        panel("PTP offset (ns)", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time,
                   concat(labels['node'], '/', labels['iface']) AS clock,
                   max(abs(value)) AS offset_ns
            FROM metrics_labeled WHERE {where} AND name = 'openshift_ptp_offset_ns'
            GROUP BY time, clock ORDER BY time""", "timeseries", 0, 0),
        panel("PTP clock state (0 FREERUN, 1 LOCKED, 2 HOLDOVER)", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time,
                   concat(labels['node'], '/', labels['iface']) AS clock, min(value) AS state
            FROM metrics_labeled WHERE {where} AND name = 'openshift_ptp_clock_state'
            GROUP BY time, clock ORDER BY time""", "timeseries", 12, 0),
        panel("Clock class", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time, labels['node'] AS node,
                   max(value) AS clock_class
            FROM metrics_labeled WHERE {where} AND name = 'openshift_ptp_clock_class'
            GROUP BY time, node ORDER BY time""", "timeseries", 0, 8),
        panel("DPDK rx missed (per s)", "timeseries", f"""
            SELECT time, port, greatest(total - lagInFrame(total, 1, total) OVER w, 0)
                   / $__interval_s AS missed_per_s
            FROM (SELECT $__timeInterval(timestamp) AS time,
                         concat(labels['node'], '/', labels['port']) AS port, max(value) AS total
                  FROM metrics_labeled WHERE {where} AND name = 'dpdk_port_rx_missed_total'
                  GROUP BY time, port)
            WINDOW w AS (PARTITION BY port ORDER BY time)
            ORDER BY time""", "timeseries", 12, 8),
    ])


def incidents() -> dict:
    return dashboard("aiops-incidents", "AIOps / Incidents and root cause", [
        panel("Incidents", "table", f"""
            SELECT incident_id, cluster, status, severity, title, opened_ts, resolved_ts,
                   length(anomaly_ids) AS anomalies
            FROM incidents FINAL
            WHERE $__timeFilter(opened_ts) AND $__conditionalAll({CLUSTERS}, $cluster)
            ORDER BY opened_ts DESC LIMIT 200""", "table", 0, 0, 24),
        panel("Root cause per incident", "table", f"""
            SELECT incident_id, cluster, top_entity_type, top_entity, round(top_score, 3) AS score,
                   top_pattern, probable_cause, provider, timestamp
            FROM rca_reports FINAL
            WHERE $__timeFilter(timestamp) AND $__conditionalAll({CLUSTERS}, $cluster)
            ORDER BY timestamp DESC LIMIT 1 BY incident_id LIMIT 200""", "table", 0, 8, 24),
        panel("Anomalies by type", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time, type, count() AS anomalies
            FROM anomalies
            WHERE $__timeFilter(timestamp) AND $__conditionalAll({CLUSTERS}, $cluster)
            GROUP BY time, type ORDER BY time""", "timeseries", 0, 16),
        panel("Alerts firing", "table", f"""
            SELECT cluster, alertname, severity, status, starts_at,
                   annotations['summary'] AS summary
            FROM alerts FINAL
            WHERE $__timeFilter(timestamp) AND $__conditionalAll({CLUSTERS}, $cluster)
            ORDER BY starts_at DESC LIMIT 200""", "table", 12, 16),
    ])


def pipeline() -> dict:
    return dashboard("aiops-pipeline", "AIOps / Pipeline self-monitoring", [
        panel("Samples ingested per second by cluster", "timeseries", f"""
            SELECT $__timeInterval(timestamp) AS time, cluster,
                   count() / $__interval_s AS samples_per_s
            FROM metrics
            WHERE $__timeFilter(timestamp) AND $__conditionalAll({CLUSTERS}, $cluster)
            GROUP BY time, cluster ORDER BY time""", "timeseries", 0, 0),
        panel("Data freshness per cluster (s behind now)", "table", f"""
            SELECT cluster, dateDiff('second', max(timestamp), now64(3)) AS seconds_behind,
                   count() AS samples
            FROM metrics
            WHERE $__timeFilter(timestamp) AND $__conditionalAll({CLUSTERS}, $cluster)
            GROUP BY cluster ORDER BY seconds_behind DESC""", "table", 12, 0),
        panel("Dead letters by component and stage", "timeseries", """
            SELECT $__timeInterval(timestamp) AS time, concat(component, '/', stage) AS where,
                   count() AS dead_letters
            FROM dead_letters WHERE $__timeFilter(timestamp)
            GROUP BY time, where ORDER BY time""", "timeseries", 0, 8),
        panel("Rows stored per table", "table", """
            SELECT table, sum(p.rows) AS total_rows,
                   formatReadableSize(sum(p.bytes_on_disk)) AS on_disk
            FROM system.parts AS p WHERE active AND database = currentDatabase()
            GROUP BY table ORDER BY total_rows DESC""", "table", 12, 8),
    ])


BUILDERS = {"fleet": fleet, "gpu": gpu, "services": services, "logs": logs, "cnf": cnf,
            "incidents": incidents, "pipeline": pipeline}


def render() -> dict[str, str]:
    """file name -> JSON text of every dashboard."""
    return {f"{name}.json": json.dumps(build(), indent=2) + "\n"
            for name, build in BUILDERS.items()}


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")
