"""Traces: search, get by id with the span tree, services, operations, dependency graph."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import ClusterFilter, Expensive, Paging, ServicesDep, Viewer, Window
from api.errors import not_found
from api.models.common import ERRORS, Page
from api.queries import traces as q
from api.queries.sql import Where, kv

router = APIRouter(prefix="/traces", tags=["traces"], responses=ERRORS)
Text = Annotated[str | None, Query(max_length=256)]


class TraceSummary(BaseModel):
    trace_id: str
    cluster: str
    start_ns: int
    max_duration_ns: int
    matched_spans: int
    services: list[str]
    operation: str
    error: bool


class Span(BaseModel):
    cluster: str
    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    operation: str
    kind: str
    start_ns: int
    duration_ns: int
    status_code: str
    status_message: str
    namespace: str
    attributes: dict[str, str]
    resources: dict[str, str]
    children: list[Span] = []


Span.model_rebuild()


class Trace(BaseModel):
    trace_id: str
    spans: int
    services: list[str]
    roots: list[Span]


class ServiceStat(BaseModel):
    cluster: str
    service: str
    spans: int
    errors: int
    p95_ns: float | None


class Operation(BaseModel):
    cluster: str
    service: str
    operation: str
    spans: int


class Edge(BaseModel):
    cluster: str
    parent: str
    child: str
    calls: int
    errors: int
    duration_ns_sum: int


class DependencyGraph(BaseModel):
    nodes: list[str]
    edges: list[Edge]


def _none(scope: list[str] | None) -> bool:
    return scope is not None and not scope


@router.get("", response_model=Page[TraceSummary], dependencies=[Expensive])
def search(services: ServicesDep, principal: Viewer, paging: Paging, window: Window,
           cluster: ClusterFilter = None, service: Text = None, operation: Text = None,
           min_duration_ms: Annotated[float | None, Query(ge=0, le=1e9)] = None,
           max_duration_ms: Annotated[float | None, Query(ge=0, le=1e9)] = None,
           status: Literal["UNSET", "OK", "ERROR"] | None = None,
           attribute: Annotated[list[str] | None, Query(max_length=10, description="k=v")] = None
           ) -> dict:
    scope = principal.restrict(cluster)
    items, total = [], 0
    if not _none(scope):
        w = Where()
        w.clusters(scope)
        w.time_range("timestamp", window.start_ms, window.end_ms)
        for column, value in (("service", service), ("operation", operation),
                              ("status_code", status)):
            if value:
                w.add(f"{column} = {{}}", value, "String")
        if min_duration_ms is not None:
            w.add("duration_ns >= {}", int(min_duration_ms * 1e6), "Int64")
        if max_duration_ms is not None:
            w.add("duration_ns <= {}", int(max_duration_ms * 1e6), "Int64")
        for k, v in kv(attribute, "attribute"):
            w.add(f"attributes[{w.bind(k, 'String')}] = {{}}", v, "String")
        items, total = q.search(services.pool, where=w, offset=paging.offset,
                                limit=paging.page_size)
    return {"items": items, "total": total, "page": paging.page, "page_size": paging.page_size}


@router.get("/services", response_model=list[ServiceStat])
def list_services(services: ServicesDep, principal: Viewer, window: Window,
                  cluster: ClusterFilter = None) -> list[dict]:
    scope = principal.restrict(cluster)
    return [] if _none(scope) else q.services(services.pool, clusters=scope,
                                              start_ms=window.start_ms, end_ms=window.end_ms)


@router.get("/operations", response_model=list[Operation])
def list_operations(services: ServicesDep, principal: Viewer, window: Window,
                    cluster: ClusterFilter = None, service: Text = None) -> list[dict]:
    scope = principal.restrict(cluster)
    return [] if _none(scope) else q.operations(
        services.pool, clusters=scope, service=service, start_ms=window.start_ms,
        end_ms=window.end_ms)


@router.get("/dependencies", response_model=DependencyGraph)
def dependency_graph(services: ServicesDep, principal: Viewer, window: Window,
                     cluster: ClusterFilter = None) -> dict:
    scope = principal.restrict(cluster)
    edges = [] if _none(scope) else q.dependencies(
        services.pool, clusters=scope, start_ms=window.start_ms, end_ms=window.end_ms)
    nodes = sorted({e["parent"] for e in edges} | {e["child"] for e in edges})
    return {"nodes": nodes, "edges": edges}


@router.get("/{trace_id}", response_model=Trace)
def get_trace(trace_id: str, services: ServicesDep, principal: Viewer) -> dict:
    scope = principal.restrict(None)
    spans = [] if _none(scope) else q.trace(services.pool, trace_id=trace_id, clusters=scope)
    if not spans:
        raise not_found("trace", trace_id)
    return {"trace_id": trace_id, "spans": len(spans),
            "services": sorted({s["service"] for s in spans}), "roots": q.span_tree(spans)}
