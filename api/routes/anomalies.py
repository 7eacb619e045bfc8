"""Detected anomalies."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import ClusterFilter, Paging, ServicesDep, Viewer, Window
from api.errors import not_found
from api.models.common import ERRORS, Page
from api.models.results import Anomaly
from api.queries import results as q

router = APIRouter(prefix="/anomalies", tags=["anomalies"], responses=ERRORS)
SeverityName = Literal["INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]


@router.get("", response_model=Page[Anomaly])
def list_anomalies(services: ServicesDep, principal: Viewer, paging: Paging, window: Window,
                   cluster: ClusterFilter = None,
                   severity: Annotated[list[SeverityName] | None, Query(max_length=5)] = None,
                   entity_type: Annotated[str | None, Query(max_length=64)] = None,
                   name: Annotated[str | None, Query(max_length=256)] = None,
                   detector: Annotated[str | None, Query(max_length=128)] = None) -> dict:
    scope = principal.restrict(cluster)
    items, total = [], 0
    if scope is None or scope:
        w = q.filters(clusters=scope, start_ms=window.start_ms, end_ms=window.end_ms,
                      severities=list(severity or []))
        for column, value in (("entity_type", entity_type), ("name", name),
                              ("detector", detector)):
            if value:
                w.add(f"{column} = {{}}", value, "String")
        items, total = q.anomalies(services.pool, where=w, offset=paging.offset,
                                   limit=paging.page_size)
    return {"items": items, "total": total, "page": paging.page, "page_size": paging.page_size}


@router.get("/{anomaly_id}", response_model=Anomaly)
def get_anomaly(anomaly_id: str, services: ServicesDep, principal: Viewer) -> dict:
    w = q.Where()
    w.add("anomaly_id = {}", anomaly_id, "String")
    w.clusters(principal.restrict(None))
    rows, _ = q.anomalies(services.pool, where=w, offset=0, limit=1)
    if not rows:
        raise not_found("anomaly", anomaly_id)
    return rows[0]
