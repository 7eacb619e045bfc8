"""Incidents with RCA; operators acknowledge and annotate them."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.auth.principal import Principal
from api.deps import ClusterFilter, Operator, Paging, ServicesDep, Viewer, Window
from api.errors import not_found
from api.models.common import ERRORS, Page
from api.models.results import Incident, IncidentDetail, NoteCreate
from api.queries import results as q

router = APIRouter(prefix="/incidents", tags=["incidents"], responses=ERRORS)
SeverityName = Literal["INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]


@router.get("", response_model=Page[Incident])
def list_incidents(services: ServicesDep, principal: Viewer, paging: Paging, window: Window,
                   cluster: ClusterFilter = None,
                   severity: Annotated[list[SeverityName] | None, Query(max_length=5)] = None,
                   state: Annotated[list[Literal["OPEN", "UPDATED", "RESOLVED"]] | None,
                                    Query(max_length=3)] = None) -> dict:
    scope = principal.restrict(cluster)
    items, total = [], 0
    if scope is None or scope:
        w = q.filters(clusters=scope, start_ms=window.start_ms, end_ms=window.end_ms,
                      time_column="opened_ts", severities=list(severity or []),
                      states=list(state or []))
        items, total = q.incidents(services.pool, where=w, offset=paging.offset,
                                   limit=paging.page_size)
    return {"items": items, "total": total, "page": paging.page, "page_size": paging.page_size}


def _incident(services: ServicesDep, principal: Principal, incident_id: str) -> dict:
    inc = q.incident(services.pool, incident_id=incident_id, clusters=principal.restrict(None))
    if inc is None:
        raise not_found("incident", incident_id)
    return inc


@router.get("/{incident_id}", response_model=IncidentDetail)
def get_incident(incident_id: str, services: ServicesDep, principal: Viewer) -> dict:
    return _incident(services, principal, incident_id)


def _note(services: ServicesDep, principal: Principal, incident_id: str, kind: str,
          text: str) -> dict:
    inc = _incident(services, principal, incident_id)
    q.add_note(services.pool, incident_id=incident_id, cluster=inc["cluster"], kind=kind,
               author=principal.name, text=text, ts_ms=int(time.time() * 1000))
    return _incident(services, principal, incident_id)


@router.post("/{incident_id}/ack", response_model=IncidentDetail)
def acknowledge(incident_id: str, services: ServicesDep, principal: Operator) -> dict:
    return _note(services, principal, incident_id, "ACK", "acknowledged")


@router.post("/{incident_id}/notes", response_model=IncidentDetail, status_code=201)
def annotate(incident_id: str, body: NoteCreate, services: ServicesDep,
             principal: Operator) -> dict:
    return _note(services, principal, incident_id, "NOTE", body.text)
