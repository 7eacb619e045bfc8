"""Telco CNF: PTP status per node/interface, SR-IOV VF and DPDK port counters."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import ClusterFilter, Paging, ServicesDep, Viewer, Window
from api.models.common import ERRORS, Page
from api.queries import cnf as q

router = APIRouter(prefix="/cnf", tags=["cnf"], responses=ERRORS)


class PtpInterface(BaseModel):
    cluster: str
    node: str
    interface: str
    state: str | None = None
    offset_ns: float | None = None
    max_offset_ns: float | None = None
    delay_ns: float | None = None
    clock_state: float | None = None
    clock_class: float | None = None
    interface_role: float | None = None
    process_status: float | None = None
    last_ts: int


class CounterSet(BaseModel):
    cluster: str
    labels: dict[str, str]
    counters: dict[str, float | None]
    last_ts: int


def _page(items: list, paging: Paging) -> dict:
    return {"items": items[paging.offset:paging.offset + paging.page_size], "total": len(items),
            "page": paging.page, "page_size": paging.page_size}


@router.get("/ptp", response_model=Page[PtpInterface])
def ptp(services: ServicesDep, principal: Viewer, paging: Paging, window: Window,
        cluster: ClusterFilter = None) -> dict:
    scope = principal.restrict(cluster)
    items = [] if scope is not None and not scope else q.ptp(
        services.pool, clusters=scope, start_ms=window.start_ms, end_ms=window.end_ms)
    return _page(items, paging)


@router.get("/{family}", response_model=Page[CounterSet])
def counters(family: Literal["sriov", "dpdk"], services: ServicesDep, principal: Viewer,
             paging: Paging, window: Window, cluster: ClusterFilter = None) -> dict:
    scope = principal.restrict(cluster)
    items = [] if scope is not None and not scope else q.counters(
        services.pool, family=family, clusters=scope, start_ms=window.start_ms,
        end_ms=window.end_ms)
    return _page(items, paging)
