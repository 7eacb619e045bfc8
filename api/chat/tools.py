"""The read-only tool registry shared by chat, the tools endpoint and the MCP server.

Every tool has typed arguments (:mod:`api.chat.arguments`) and runs the
API's own query functions with the caller's RBAC and cluster scope applied: a token
scoped to ``alpha`` sees ``alpha`` through every tool and nothing else, exactly as
through the REST routes. No tool writes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from api.auth.principal import Principal, Role
from api.chat.arguments import (
    AlertQuery,
    AnomalyQuery,
    Args,
    ClusterList,
    ClusterName,
    IncidentId,
    LogPatterns,
    LogQuery,
    MetricLabels,
    MetricQuery,
    NoArgs,
    TraceId,
    TraceSearch,
    Window,
)
from api.deps import PageParams, TimeRange
from api.errors import ApiError
from api.queries import cnf, fleet, logs, traces
from api.queries import metrics as mq
from api.queries import results as rq
from api.queries.sql import Where
from api.routes import gpu as gpu_routes
from api.services import Services
from streams.llm.base import ToolSpec
from streams.llm.personas import ALL_TOOLS


class ToolError(Exception):
    """A tool call that cannot run: unknown tool, bad arguments, not found, forbidden."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


@dataclass
class Call:
    """What a tool runs with: the API's services, the caller and the validated arguments."""

    services: Services
    principal: Principal
    args: Any

    def scope(self, wanted: list[str] | None = None) -> list[str] | None:
        return self.principal.restrict(wanted)

    def window(self) -> tuple[int, int]:
        end = datetime.now(UTC)
        start = end - timedelta(minutes=self.args.since_minutes)
        return int(start.timestamp() * 1000), int(end.timestamp() * 1000)

    def time_range(self) -> TimeRange:
        end = datetime.now(UTC)
        return TimeRange(end - timedelta(minutes=self.args.since_minutes), end)


def _empty(scope: list[str] | None) -> bool:
    return scope is not None and not scope


def _visible_clusters(c: Call) -> list[dict[str, Any]]:
    return fleet.visible(c.services.registry.all(), c.principal.clusters)


def list_clusters(c: Call) -> Any:
    a = c.args
    return fleet.filter_clusters(_visible_clusters(c), name=a.name, state=a.state,
                                 has_gpu=a.has_gpu, has_cnf=a.has_cnf)


def get_cluster_status(c: Call) -> Any:
    record = c.services.registry.get(c.args.cluster)
    if record is None or not c.principal.sees(c.args.cluster):
        raise ToolError(404, "not_found", "cluster not found")
    return {**fleet.status_of(record, c.services.registry.now_ms()),
            "capabilities": record.get("capabilities", {})}


def fleet_summary(c: Call) -> Any:
    return fleet.summary(_visible_clusters(c))


def query_metrics(c: Call) -> Any:
    a = c.args
    scope = c.scope(a.cluster)
    if _empty(scope):
        return {"metric": a.name, "series": []}
    start, end = c.window()
    result = mq.range_query(c.services.pool, name=a.name, clusters=scope,
                            matchers=[mq.parse_matcher(m) for m in a.match], start_ms=start,
                            end_ms=end, step_s=a.step_s, agg=a.agg, by=a.by)
    return {"metric": a.name, "aggregation": a.agg, "step": a.step_s,
            "resolution": result["resolution"], "series": result["series"]}


def get_metric_labels(c: Call) -> Any:
    a = c.args
    scope = c.scope(a.cluster)
    if _empty(scope):
        return {"values": []}
    if a.label:
        return {"label": a.label, "values": mq.label_values(
            c.services.pool, label=a.label, clusters=scope, name=a.name)}
    return {"labels": mq.label_names(c.services.pool, clusters=scope, name=a.name)}


def search_traces(c: Call) -> Any:
    a = c.args
    scope = c.scope(a.cluster)
    if _empty(scope):
        return {"traces": [], "total": 0}
    start, end = c.window()
    w = Where()
    w.clusters(scope)
    w.time_range("timestamp", start, end)
    for column, value in (("service", a.service), ("operation", a.operation),
                          ("status_code", a.status)):
        if value:
            w.add(f"{column} = {{}}", value, "String")
    if a.min_duration_ms is not None:
        w.add("duration_ns >= {}", int(a.min_duration_ms * 1e6), "Int64")
    items, total = traces.search(c.services.pool, where=w, offset=0, limit=a.limit)
    return {"traces": items, "total": total}


def get_trace(c: Call) -> Any:
    scope = c.scope()
    spans = [] if _empty(scope) else traces.trace(c.services.pool, trace_id=c.args.trace_id,
                                                   clusters=scope)
    if not spans:
        raise ToolError(404, "not_found", "trace not found")
    return {"trace_id": c.args.trace_id, "spans": len(spans),
            "services": sorted({s["service"] for s in spans}), "roots": traces.span_tree(spans)}


def _log_where(c: Call, streams: dict[str, str | None], contains: str | None) -> Where | None:
    scope = c.scope(c.args.cluster)
    if _empty(scope):
        return None
    start, end = c.window()
    return logs.where(clusters=scope, start_ms=start, end_ms=end,
                      streams={k: v for k, v in streams.items() if v}, labels=[],
                      contains=contains, regex=None, levels=list(c.args.level))


def query_logs(c: Call) -> Any:
    a = c.args
    w = _log_where(c, {"namespace": a.namespace, "pod": a.pod, "app": a.app}, a.contains)
    rows = [] if w is None else logs.lines(c.services.pool, where=w, direction="backward",
                                           limit=a.limit)
    return {"lines": rows}


def log_patterns(c: Call) -> Any:
    a = c.args
    w = _log_where(c, {"namespace": a.namespace, "app": a.app}, None)
    if w is None:
        return {"patterns": []}
    start, end = c.window()
    rows = logs.patterns(c.services.pool, where=w, start_ms=start, end_ms=end, limit=a.limit)
    for r in rows:
        r["trend"] = round(r["second_half"] / r["first_half"], 4) if r["first_half"] else None
    return {"patterns": rows}


def list_alerts(c: Call) -> Any:
    a = c.args
    scope = c.scope(a.cluster)
    if _empty(scope):
        return {"alerts": [], "total": 0}
    start, end = c.window()
    w = rq.filters(clusters=scope, start_ms=start, end_ms=end, severities=a.severity,
                   states=list(a.state))
    items, total = rq.alerts(c.services.pool, where=w, offset=0, limit=a.limit)
    return {"alerts": items, "total": total}


def list_anomalies(c: Call) -> Any:
    a = c.args
    scope = c.scope(a.cluster)
    if _empty(scope):
        return {"anomalies": [], "total": 0}
    start, end = c.window()
    w = rq.filters(clusters=scope, start_ms=start, end_ms=end, severities=list(a.severity))
    items, total = rq.anomalies(c.services.pool, where=w, offset=0, limit=a.limit)
    return {"anomalies": items, "total": total}


def _incident(c: Call) -> dict[str, Any]:
    scope = c.scope()
    inc = None if _empty(scope) else rq.incident(c.services.pool,
                                                 incident_id=c.args.incident_id, clusters=scope)
    if inc is None:
        raise ToolError(404, "not_found", "incident not found")
    return inc


def get_incident(c: Call) -> Any:
    return _incident(c)


def get_rca(c: Call) -> Any:
    inc = _incident(c)
    if inc["rca"] is None:
        raise ToolError(404, "not_found", "no root-cause report for this incident yet")
    return inc["rca"]


def get_gpu_nodes(c: Call) -> Any:
    page = gpu_routes.list_nodes(c.services, c.principal, PageParams(1, 100), c.time_range(),
                                 c.args.cluster)
    return {"nodes": page["items"], "total": page["total"]}


def get_gpu_summary(c: Call) -> Any:
    return gpu_routes.summary(c.services, c.principal, c.time_range(), c.args.cluster)


def get_ptp_status(c: Call) -> Any:
    scope = c.scope(c.args.cluster)
    start, end = c.window()
    return {"interfaces": [] if _empty(scope) else cnf.ptp(
        c.services.pool, clusters=scope, start_ms=start, end_ms=end)}


def _counters(family: str) -> Callable[[Call], Any]:
    def run(c: Call) -> Any:
        scope = c.scope(c.args.cluster)
        start, end = c.window()
        return {"counters": [] if _empty(scope) else cnf.counters(
            c.services.pool, family=family, clusters=scope, start_ms=start, end_ms=end)}

    return run


@dataclass(frozen=True)
class Tool:
    """One read-only tool."""

    name: str
    description: str
    args: type[Args]
    run: Callable[[Call], Any]

    def spec(self) -> ToolSpec:
        schema = self.args.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(self.name, self.description, schema)


TOOLS: dict[str, Tool] = {t.name: t for t in (
    Tool("list_clusters", "List fleet clusters with state, health and capabilities.",
         ClusterList, list_clusters),
    Tool("get_cluster_status", "State, health score and last heartbeat of one cluster.",
         ClusterName, get_cluster_status),
    Tool("fleet_summary", "Cluster counts by state/type/environment, GPUs, CNF clusters.",
         NoArgs, fleet_summary),
    Tool("query_metrics", "Aggregated metric time series (history in ClickHouse).",
         MetricQuery, query_metrics),
    Tool("get_metric_labels", "Label names of metrics, or the values of one label.",
         MetricLabels, get_metric_labels),
    Tool("search_traces", "Find traces by service, operation, status and duration.",
         TraceSearch, search_traces),
    Tool("get_trace", "One trace as a span tree.", TraceId, get_trace),
    Tool("query_logs", "Recent log lines filtered by namespace, pod, app, text and level.",
         LogQuery, query_logs),
    Tool("log_patterns", "Log templates with counts, example line and trend.",
         LogPatterns, log_patterns),
    Tool("list_alerts", "Alerts received from Alertmanager.", AlertQuery, list_alerts),
    Tool("list_anomalies", "Detected anomalies with score and severity.",
         AnomalyQuery, list_anomalies),
    Tool("get_incident", "One incident with its members, RCA report and notes.",
         IncidentId, get_incident),
    Tool("get_rca", "The latest root-cause report of an incident.", IncidentId, get_rca),
    Tool("get_gpu_nodes", "GPU nodes: GPU count, models, utilisation, power.",
         Window, get_gpu_nodes),
    Tool("get_gpu_summary", "Fleet GPU summary: models, utilisation, temperature, errors.",
         Window, get_gpu_summary),
    Tool("get_ptp_status", "PTP state, offset and clock class per node interface.",
         Window, get_ptp_status),
    Tool("get_sriov_status", "Latest SR-IOV virtual-function counters.",
         Window, _counters("sriov")),
    Tool("get_dpdk_stats", "Latest DPDK port counters.", Window, _counters("dpdk")),
)}
assert tuple(TOOLS) == ALL_TOOLS, "the registry and the personas' tool list must agree"


def validate(name: str, arguments: dict[str, Any] | None) -> tuple[Tool, Args]:
    """The tool and its validated arguments; ToolError (404/400) otherwise."""
    tool = TOOLS.get(name)
    if tool is None:
        raise ToolError(404, "not_found", f"unknown tool {name!r}", {"known": list(TOOLS)})
    try:
        return tool, tool.args.model_validate(arguments or {})
    except ValidationError as exc:
        details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        raise ToolError(400, "bad_request", f"invalid arguments for {name}", details) from exc


def call(services: Services, principal: Principal, name: str,
         arguments: dict[str, Any] | None) -> Any:
    """Run tool ``name`` for ``principal`` (viewer or higher); ToolError on refusal."""
    if not principal.can(Role.VIEWER):
        raise ToolError(403, "forbidden", "tools need the viewer role")
    tool, args = validate(name, arguments)
    try:
        return tool.run(Call(services, principal, args))
    except ApiError as exc:
        raise ToolError(exc.status, exc.code, exc.message, exc.details) from exc
