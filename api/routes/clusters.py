"""Fleet registry: list/get/create/update/delete clusters and their status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from api.auth.principal import Principal
from api.deps import Admin, Paging, ServicesDep, Viewer
from api.errors import ApiError, not_found
from api.models.clusters import (
    Cluster,
    ClusterCreate,
    ClusterSpec,
    ClusterState,
    ClusterStatus,
    ClusterType,
)
from api.models.common import ERRORS, Page
from api.queries import fleet
from api.queries.sql import kv
from api.registry import RegistryError
from connectors.registry_feed import cluster_uuid

router = APIRouter(prefix="/clusters", tags=["clusters"], responses=ERRORS)


def _visible(services: ServicesDep, principal: Principal, name: str) -> dict:
    c = services.registry.get(name)
    if c is None or not principal.sees(name):
        raise not_found("cluster", name)
    return c


@router.get("", response_model=Page[Cluster])
def list_clusters(
    services: ServicesDep, principal: Viewer, paging: Paging,
    name: Annotated[str | None, Query(max_length=256, description="Substring of the name")] = None,
    type: ClusterType | None = None,
    environment: Annotated[str | None, Query(max_length=64)] = None,
    region: Annotated[str | None, Query(max_length=128)] = None,
    state: ClusterState | None = None,
    has_gpu: bool | None = None,
    has_cnf: bool | None = None,
    label: Annotated[list[str] | None, Query(max_length=32, description="k=v")] = None,
) -> dict:
    items = fleet.filter_clusters(
        fleet.visible(services.registry.all(), principal.clusters), name=name, type=type,
        environment=environment, region=region, state=state, has_gpu=has_gpu, has_cnf=has_cnf,
        labels=kv(label))
    return {"items": items[paging.offset:paging.offset + paging.page_size], "page": paging.page,
            "page_size": paging.page_size, "total": len(items)}


@router.get("/by-id/{cluster_id}", response_model=Cluster)
def get_by_id(cluster_id: str, services: ServicesDep, principal: Viewer) -> dict:
    c = services.registry.by_id(cluster_id)
    if c is None or not principal.sees(c["name"]):
        raise not_found("cluster", cluster_id)
    return c


@router.get("/{name}", response_model=Cluster)
def get_cluster(name: str, services: ServicesDep, principal: Viewer) -> dict:
    return _visible(services, principal, name)


@router.get("/{name}/status", response_model=ClusterStatus)
def cluster_status(name: str, services: ServicesDep, principal: Viewer) -> dict:
    return fleet.status_of(_visible(services, principal, name), services.registry.now_ms())


def _record(spec: ClusterSpec, name: str, cluster_id: str, held: dict | None) -> dict:
    return {"cluster_id": cluster_id, "name": name, **spec.model_dump(),
            "status": (held or {}).get("reported_status", "UNKNOWN"),
            "health_score": (held or {}).get("health_score", 0.0),
            "last_seen": (held or {}).get("last_seen", 0), "record_version": 0}


async def _write(services: ServicesDep, record: dict) -> dict:
    try:
        return await run_in_threadpool(services.registry.put, record)
    except RegistryError as exc:
        raise ApiError(503, "unavailable", str(exc)) from exc


@router.post("", response_model=Cluster, status_code=201)
async def create_cluster(body: ClusterCreate, services: ServicesDep, principal: Admin) -> dict:
    if not principal.sees(body.name):
        raise ApiError(403, "forbidden", "cluster outside this token's scope")
    if services.registry.get(body.name) is not None:
        raise ApiError(409, "conflict", f"cluster {body.name!r} already exists")
    spec = ClusterSpec(**body.model_dump(exclude={"name", "cluster_id"}))
    return await _write(services, _record(spec, body.name,
                                          body.cluster_id or cluster_uuid(body.name), None))


@router.put("/{name}", response_model=Cluster)
async def update_cluster(name: str, body: ClusterSpec, services: ServicesDep,
                         principal: Admin) -> dict:
    held = _visible(services, principal, name)
    return await _write(services, _record(body, name, held["cluster_id"], held))


@router.delete("/{name}", status_code=204, response_class=Response)
async def delete_cluster(name: str, services: ServicesDep, principal: Admin) -> Response:
    _visible(services, principal, name)
    try:
        await run_in_threadpool(services.registry.delete, name)
    except RegistryError as exc:
        raise ApiError(503, "unavailable", str(exc)) from exc
    return Response(status_code=204)
