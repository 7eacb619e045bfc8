"""ClickHouse reads for one incident: member anomalies and alerts, call edges, log
templates and exemplar spans.

Every query is bounded: by the member ids, by the incident's services, or by its
namespaces and time window, with a row limit.

Rule breaches (detector ``rule:*``: GPU XID/ECC/throttling, PTP clock state ...) carry no
z-score (``score`` 0), which the ranking would read as no evidence at all; they are read
as a saturated detection, :data:`RULE_SCORE` (the cap of
:func:`streams.rca.evidence.magnitude`, which the model detectors reach too).

>>> rule_scored({"detector": "rule:gpu_xid", "score": 0.0})["score"]
1000000.0
>>> rule_scored({"detector": "metric", "score": 0.0})["score"]
0.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streams.correlate.members import alert_entity, topology_keys
from streams.correlate.severity import alert_severity
from streams.rca.context import LogEvent, TraceEvidence

MAX_LOG_EVENTS = 200
MAX_TRACES = 50
MAX_PLACEMENT = 10_000
MAX_EDGES = 2000
#: Score of a rule breach: a certain event, as strong as the strongest detection.
RULE_SCORE = 1e6
_ALERT_SCORE = {"CRITICAL": 12.0, "HIGH": 8.0, "MEDIUM": 5.0, "LOW": 3.0, "INFO": 1.0}


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000)


def rule_scored(anomaly: dict[str, Any]) -> dict[str, Any]:
    """``anomaly`` with :data:`RULE_SCORE` when it is a rule breach without a score."""
    if str(anomaly.get("detector") or "").startswith("rule:") and not anomaly.get("score"):
        anomaly["score"] = RULE_SCORE
    return anomaly


class HistoryReader:
    """Queries of one ClickHouse database (``client`` is a clickhouse-connect client)."""

    def __init__(self, client: Any, database: str) -> None:
        self.client = client
        self.db = database

    def anomalies(self, cluster: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The member anomalies found (``Anomaly`` dicts); missing ids are simply absent."""
        if not ids:
            return []
        result = self.client.query(
            "SELECT anomaly_id, cluster, entity_type, entity, name, labels, series_id, type, "
            "actual, expected, lower, upper, score, confidence, severity, detector, rule, "
            "start_ts, timestamp, detected_ts "
            f"FROM `{self.db}`.anomalies FINAL "
            "WHERE cluster = {c:String} AND anomaly_id IN {ids:Array(String)} "
            "ORDER BY start_ts, anomaly_id LIMIT 1 BY anomaly_id",
            parameters={"c": cluster, "ids": list(ids)})
        out = []
        for row in result.named_results():
            rec = dict(row)
            rec["labels"] = dict(rec["labels"])
            rec["start_ts"] = _ms(rec["start_ts"])
            rec["sample_ts"] = _ms(rec.pop("timestamp"))
            rec["detected_ts"] = _ms(rec["detected_ts"])
            out.append(rule_scored(rec))
        return out

    def alerts_as_anomalies(self, cluster: str, fingerprints: Sequence[str]
                            ) -> list[dict[str, Any]]:
        """Member alerts (their first firing row) shaped as ``Anomaly`` dicts for ranking."""
        if not fingerprints:
            return []
        result = self.client.query(
            "SELECT fingerprint, alertname, severity, labels, starts_at "
            f"FROM `{self.db}`.alerts FINAL "
            "WHERE cluster = {c:String} AND fingerprint IN {fps:Array(String)} "
            "ORDER BY starts_at LIMIT 1 BY fingerprint",
            parameters={"c": cluster, "fps": list(fingerprints)})
        out = []
        for row in result.named_results():
            labels = dict(row["labels"])
            keys = topology_keys("SERIES", "", labels)
            etype, _, entity = alert_entity(labels, keys, cluster).partition(":")
            sev = alert_severity(str(row["severity"]))
            ts = _ms(row["starts_at"])
            out.append({
                "anomaly_id": f"alert:{row['fingerprint']}", "cluster": cluster,
                "entity_type": etype, "entity": entity, "name": str(row["alertname"]),
                "labels": labels, "series_id": 0, "type": "THRESHOLD_BREACH", "actual": 1.0,
                "expected": 0.0, "lower": 0.0, "upper": 0.0, "score": _ALERT_SCORE[sev],
                "confidence": 1.0, "severity": sev, "detector": "alertmanager",
                "rule": labels.get("alertname"), "start_ts": ts, "sample_ts": ts,
                "detected_ts": ts})
        return out

    def edges(self, cluster: str, services: Sequence[str], start_ms: int, end_ms: int
              ) -> list[tuple[str, str, float, float, float]]:
        """(caller, callee, calls/s, error ratio, mean latency ms) touching ``services``
        (bare span service names) in the window."""
        if not services:
            return []
        minutes = max(1.0, (end_ms - start_ms) / 60_000)
        result = self.client.query(
            "SELECT parent_service, child_service, sum(calls) AS c, sum(errors) AS e, "
            "sum(duration_ns_sum) AS d "
            f"FROM `{self.db}`.service_edges "
            "WHERE cluster = {c:String} "
            "AND timestamp >= toDateTime({s:Int64} DIV 1000 DIV 60 * 60) "
            "AND timestamp <= toDateTime({e:Int64} DIV 1000) "
            "AND (parent_service IN {svc:Array(String)} OR child_service IN {svc:Array(String)}) "
            f"GROUP BY parent_service, child_service ORDER BY c DESC LIMIT {MAX_EDGES}",
            parameters={"c": cluster, "s": start_ms, "e": end_ms, "svc": list(services)})
        return [(str(p), str(ch), c / (minutes * 60.0), e / c if c else 0.0,
                 d / c / 1e6 if c else 0.0) for p, ch, c, e, d in result.result_rows]

    def log_events(self, cluster: str, namespaces: Sequence[str], start_ms: int, end_ms: int,
                   baseline_ms: int) -> list[LogEvent]:
        """Drain templates of the incident's namespaces that are new or bursting in the
        window compared with the ``baseline_ms`` before it."""
        if not namespaces:
            return []
        result = self.client.query(
            "SELECT namespace, app, template_id, "
            "countIf(timestamp >= fromUnixTimestamp64Milli({s:Int64})) AS n, "
            "countIf(timestamp < fromUnixTimestamp64Milli({s:Int64})) AS base, "
            "minIf(timestamp, timestamp >= fromUnixTimestamp64Milli({s:Int64})) AS first, "
            "any(body) AS example, max(level IN ('ERROR', 'FATAL')) AS err "
            f"FROM `{self.db}`.logs "
            "WHERE cluster = {c:String} AND namespace IN {ns:Array(String)} "
            "AND template_id != '' "
            "AND timestamp >= fromUnixTimestamp64Milli({b:Int64}) "
            "AND timestamp <= fromUnixTimestamp64Milli({e:Int64}) "
            "GROUP BY namespace, app, template_id HAVING n > 0 AND (base = 0 OR n > 2 * base) "
            f"ORDER BY n DESC LIMIT {MAX_LOG_EVENTS}",
            parameters={"c": cluster, "ns": list(namespaces), "s": start_ms, "e": end_ms,
                        "b": start_ms - baseline_ms})
        out = []
        for ns, app, tid, n, base, first, example, err in result.result_rows:
            service = f"{ns}/{app}" if app else str(ns)
            out.append(LogEvent("SERVICE", service, str(tid), str(example)[:300], int(n),
                                int(base), _ms(first), bool(err), service))
        return out

    def node_services(self, cluster: str, nodes: Sequence[str], start_ms: int, end_ms: int
                      ) -> dict[str, list[str]]:
        """Placement from the spans' resources: node -> services (``namespace/service``)
        whose pods on that node served requests (SERVER/CONSUMER spans) in the window."""
        if not nodes:
            return {}
        result = self.client.query(
            "SELECT DISTINCT resources['k8s.node.name'] AS node, namespace, service "
            f"FROM `{self.db}`.spans "
            "WHERE cluster = {c:String} AND node IN {n:Array(String)} "
            "AND kind IN ('SERVER', 'CONSUMER') "
            "AND timestamp >= fromUnixTimestamp64Milli({s:Int64}) "
            "AND timestamp <= fromUnixTimestamp64Milli({e:Int64}) "
            f"ORDER BY node, namespace, service LIMIT {MAX_PLACEMENT}",
            parameters={"c": cluster, "n": list(nodes), "s": start_ms, "e": end_ms})
        out: dict[str, list[str]] = {}
        for node, ns, svc in result.result_rows:
            out.setdefault(str(node), []).append(f"{ns}/{svc}" if ns else str(svc))
        return out

    def traces(self, cluster: str, services: Sequence[str], start_ms: int, end_ms: int
               ) -> list[tuple[str, TraceEvidence]]:
        """Exemplar spans of ``services`` (bare names) in the window: failed ones first,
        then the slowest; (bare service, evidence with the bare service name)."""
        if not services:
            return []
        result = self.client.query(
            "SELECT trace_id, service, operation, duration_ns, timestamp, "
            "status_code = 'ERROR' AS failed, resources['k8s.pod.name'] AS pod, namespace "
            f"FROM `{self.db}`.spans "
            "WHERE cluster = {c:String} AND service IN {svc:Array(String)} "
            "AND timestamp >= fromUnixTimestamp64Milli({s:Int64}) "
            "AND timestamp <= fromUnixTimestamp64Milli({e:Int64}) "
            f"ORDER BY failed DESC, duration_ns DESC LIMIT {MAX_TRACES}",
            parameters={"c": cluster, "svc": list(services), "s": start_ms, "e": end_ms})
        out = []
        for tid, svc, op, dur, ts, failed, pod, ns in result.result_rows:
            pod_ref = f"{ns}/{pod}" if ns and pod else str(pod or "")
            out.append((str(svc), TraceEvidence(str(tid), str(svc), str(op), dur / 1e6,
                                                 _ms(ts), bool(failed), pod_ref)))
        return out
