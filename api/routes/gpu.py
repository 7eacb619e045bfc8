"""GPU nodes and devices with latest DCGM telemetry, fleet GPU summary, per-GPU history."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import ClusterFilter, Paging, ServicesDep, Viewer, Window
from api.errors import not_found
from api.models.common import ERRORS, Page
from api.queries import gpu as q
from api.queries.sql import allowed

router = APIRouter(prefix="/gpu", tags=["gpu"], responses=ERRORS)


class GpuDevice(BaseModel):
    cluster: str
    node: str
    gpu: int
    uuid: str
    mig_instance_id: str
    model: str
    pci_bus_id: str
    mig_profile: str
    pod: str
    namespace: str
    container: str
    last_ts: int
    telemetry: dict[str, float | None]


class GpuNode(BaseModel):
    cluster: str
    node: str
    gpus: int
    models: list[str]
    avg_gpu_util: float | None
    power_w: float | None
    busy: int
    last_ts: int


class GpuSummary(BaseModel):
    gpus: int
    nodes: int
    clusters: int
    by_model: dict[str, int]
    avg_gpu_util: float | None
    avg_gpu_temp_c: float | None
    total_power_w: float | None
    allocated: int
    with_errors: int


class GpuHistory(BaseModel):
    uuid: str
    step: int
    fields: list[str]
    points: list[dict[str, Any]]


def _device(row: dict[str, Any]) -> dict[str, Any]:
    return {**{k: row[k] for k in ("cluster", "node", "gpu", "uuid", "mig_instance_id",
                                   "last_ts", *q.ATTRIBUTION)},
            "telemetry": {k: row[k] for k in q.TELEMETRY}}


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def _devices(services: ServicesDep, principal: Viewer, window: Window,
             cluster: list[str] | None, **filters: str | None) -> list[dict[str, Any]]:
    scope = principal.restrict(cluster)
    if scope is not None and not scope:
        return []
    return [_device(r) for r in q.devices(services.pool, clusters=scope,
                                          start_ms=window.start_ms, end_ms=window.end_ms,
                                          **filters)]


Text = Annotated[str | None, Query(max_length=256)]


@router.get("/devices", response_model=Page[GpuDevice])
def list_devices(services: ServicesDep, principal: Viewer, paging: Paging, window: Window,
                 cluster: ClusterFilter = None, node: Text = None, model: Text = None) -> dict:
    items = _devices(services, principal, window, cluster, node=node, model=model)
    return {"items": items[paging.offset:paging.offset + paging.page_size], "total": len(items),
            "page": paging.page, "page_size": paging.page_size}


@router.get("/nodes", response_model=Page[GpuNode])
def list_nodes(services: ServicesDep, principal: Viewer, paging: Paging, window: Window,
               cluster: ClusterFilter = None) -> dict:
    by_node: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for d in _devices(services, principal, window, cluster):
        by_node[(d["cluster"], d["node"])].append(d)
    items = [{"cluster": c, "node": n, "gpus": len(ds),
              "models": sorted({d["model"] for d in ds}),
              "avg_gpu_util": _mean([d["telemetry"]["gpu_util"] for d in ds]),
              "power_w": _mean([d["telemetry"]["power_w"] for d in ds]),
              "busy": sum(1 for d in ds if d["pod"]),
              "last_ts": max(d["last_ts"] for d in ds)} for (c, n), ds in sorted(by_node.items())]
    return {"items": items[paging.offset:paging.offset + paging.page_size], "total": len(items),
            "page": paging.page, "page_size": paging.page_size}


@router.get("/summary", response_model=GpuSummary)
def summary(services: ServicesDep, principal: Viewer, window: Window,
            cluster: ClusterFilter = None) -> dict:
    ds = _devices(services, principal, window, cluster)
    power = [d["telemetry"]["power_w"] for d in ds if d["telemetry"]["power_w"] is not None]
    return {"gpus": len(ds), "nodes": len({(d["cluster"], d["node"]) for d in ds}),
            "clusters": len({d["cluster"] for d in ds}),
            "by_model": dict(Counter(d["model"] for d in ds)),
            "avg_gpu_util": _mean([d["telemetry"]["gpu_util"] for d in ds]),
            "avg_gpu_temp_c": _mean([d["telemetry"]["gpu_temp_c"] for d in ds]),
            "total_power_w": round(sum(power), 3) if power else None,
            "allocated": sum(1 for d in ds if d["pod"]),
            "with_errors": sum(1 for d in ds if (d["telemetry"]["xid_last"] or 0) > 0
                               or (d["telemetry"]["ecc_dbe_volatile_total"] or 0) > 0)}


@router.get("/devices/{uuid}/history", response_model=GpuHistory)
def device_history(uuid: str, services: ServicesDep, principal: Viewer, window: Window,
                   field: Annotated[list[str] | None, Query(max_length=len(q.TELEMETRY))] = None,
                   step: Annotated[int, Query(ge=1, le=86_400)] = 60) -> dict:
    fields = [allowed(f, q.TELEMETRY, "field") for f in (field or ["gpu_util", "power_w"])]
    scope = principal.restrict(None)
    points = [] if scope is not None and not scope else q.history(
        services.pool, uuid=uuid, clusters=scope, fields=fields, start_ms=window.start_ms,
        end_ms=window.end_ms, step_s=step)
    if not points:
        raise not_found("gpu", uuid)
    return {"uuid": uuid, "step": step, "fields": fields, "points": points}
