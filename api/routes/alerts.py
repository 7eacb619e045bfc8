"""Alerts received from Alertmanager."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import ClusterFilter, Paging, ServicesDep, Viewer, Window
from api.models.common import ERRORS, Page
from api.models.results import Alert
from api.queries import results as q

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=ERRORS)
Severity = Annotated[list[str] | None, Query(max_length=10)]


@router.get("", response_model=Page[Alert])
def list_alerts(services: ServicesDep, principal: Viewer, paging: Paging, window: Window,
                cluster: ClusterFilter = None, severity: Severity = None,
                state: Annotated[list[Literal["FIRING", "RESOLVED"]] | None,
                                 Query(max_length=2)] = None,
                alertname: Annotated[str | None, Query(max_length=256)] = None) -> dict:
    scope = principal.restrict(cluster)
    items, total = [], 0
    if scope is None or scope:
        w = q.filters(clusters=scope, start_ms=window.start_ms, end_ms=window.end_ms,
                      severities=severity, states=list(state or []))
        if alertname:
            w.add("alertname = {}", alertname, "String")
        items, total = q.alerts(services.pool, where=w, offset=paging.offset,
                                limit=paging.page_size)
    return {"items": items, "total": total, "page": paging.page, "page_size": paging.page_size}
