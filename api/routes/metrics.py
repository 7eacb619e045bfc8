"""Metric series, label names/values and federated range queries."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from api.auth.principal import Principal
from api.deps import ClusterFilter, Expensive, Paging, ServicesDep, Viewer, Window
from api.models.common import ERRORS, Page
from api.models.metrics import RangeResult, Series, Values
from api.queries import metrics as q
from api.queries.sql import label_name
from api.responses import fast_json

router = APIRouter(prefix="/metrics", tags=["metrics"], responses=ERRORS)
Matchers = Annotated[list[str] | None, Query(alias="match", max_length=20,
                                             description='label="v", !=, =~, !~')]
OUT_OF_SCOPE = "(out of scope)"
Name = Annotated[str | None, Query(max_length=256, description="Metric name")]


def _empty(scope: list[str] | None) -> bool:
    return scope is not None and not scope


@router.get("/series", response_model=Page[Series])
def series(services: ServicesDep, principal: Viewer, paging: Paging,
           cluster: ClusterFilter = None, name: Name = None, match: Matchers = None) -> dict:
    scope = principal.restrict(cluster)
    matchers = [q.parse_matcher(m) for m in match or []]
    items, total = ([], 0) if _empty(scope) else q.series(
        services.pool, clusters=scope, name=name, matchers=matchers, offset=paging.offset,
        limit=paging.page_size)
    return {"items": items, "total": total, "page": paging.page, "page_size": paging.page_size}


@router.get("/labels", response_model=Values)
def labels(services: ServicesDep, principal: Viewer, cluster: ClusterFilter = None,
           name: Name = None) -> dict:
    scope = principal.restrict(cluster)
    return {"values": [] if _empty(scope) else q.label_names(
        services.pool, clusters=scope, name=name)}


@router.get("/labels/{label}/values", response_model=Values)
def label_values(label: str, services: ServicesDep, principal: Viewer,
                 cluster: ClusterFilter = None, name: Name = None) -> dict:
    scope = principal.restrict(cluster)
    if label not in ("cluster", "__name__"):
        label_name(label)
    return {"values": [] if _empty(scope) else q.label_values(
        services.pool, label=label, clusters=scope, name=name)}


def coverage(services: ServicesDep, principal: Principal, requested: list[str] | None,
             scope: list[str] | None, rows: dict[str, int]) -> list[dict]:
    """Per-cluster outcome of a federated query."""
    targets = set(scope) if scope is not None else services.registry.names() | set(rows)
    # Out-of-scope names are not echoed back: one entry counts them.
    hidden = sum(1 for c in set(requested or []) - set(targets) if not principal.sees(c))
    out = [{"cluster": OUT_OF_SCOPE, "status": "forbidden", "rows": hidden}] if hidden else []
    for c in sorted(targets):
        n = rows.get(c, 0)
        held = services.registry.get(c)
        status = "ok" if n else ("unknown" if held is None else
                                 "offline" if held["state"] == "OFFLINE" else "no_data")
        out.append({"cluster": c, "status": status, "rows": n})
    return out


@router.get("/query_range", response_model=RangeResult, dependencies=[Expensive])
def query_range(
    services: ServicesDep, principal: Viewer, window: Window, response: Response,
    name: Annotated[str, Query(min_length=1, max_length=256)],
    step: Annotated[int, Query(ge=1, le=86_400, description="Seconds")] = 60,
    agg: Literal["avg", "sum", "min", "max", "quantile"] = "avg",
    quantile: Annotated[float, Query(description="0.5, 0.9 or 0.99")] = 0.99,
    by: Annotated[list[str] | None, Query(max_length=10,
                                          description="cluster or label names")] = None,
    resolution: Literal["auto", "raw", "1m", "1h"] = "auto",
    cluster: ClusterFilter = None, match: Matchers = None,
) -> Response:
    """Points per group, served from the rollup the step allows (see ``resolution``)."""
    scope = principal.restrict(cluster)
    matchers = [q.parse_matcher(m) for m in match or []]
    result = {"series": [], "resolution": q.choose_resolution(step, resolution)[0],
              "rows_by_cluster": {}}
    if not _empty(scope):
        result = q.range_query(services.pool, name=name, clusters=scope, matchers=matchers,
                               start_ms=window.start_ms, end_ms=window.end_ms, step_s=step,
                               agg=agg, by=by or [], quantile=quantile, resolution=resolution)
    cov = coverage(services, principal, cluster, scope, result["rows_by_cluster"])
    return fast_json({"metric": name, "aggregation": agg, "step": step,
                      "start": window.start_ms, "end": window.end_ms,
                      "resolution": result["resolution"], "series": result["series"],
                      "clusters": cov, "partial": is_partial(cov, cluster)}, response)


def is_partial(cov: list[dict], requested: list[str] | None) -> bool:
    """Offline or forbidden clusters, or requested ones without data, make a partial answer."""
    wanted = set(requested or [])
    return any(c["status"] in ("offline", "forbidden")
               or (c["cluster"] in wanted and c["status"] != "ok") for c in cov)
