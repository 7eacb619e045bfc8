"""Log queries (stream labels, text, level, direction, limit <= 5000) and template patterns."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import ClusterFilter, Expensive, ServicesDep, Viewer, Window
from api.errors import bad_request
from api.models.common import ERRORS
from api.queries import logs as q
from api.queries.metrics import FORBIDDEN_RE
from api.queries.sql import Where, kv

router = APIRouter(prefix="/logs", tags=["logs"], responses=ERRORS)
Text = Annotated[str | None, Query(max_length=256)]
Level = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "UNKNOWN"]


class LogLine(BaseModel):
    ts_ns: int
    cluster: str
    namespace: str
    pod: str
    container: str
    app: str
    level: str
    body: str
    template_id: str
    template_params: list[str] = []
    trace_id: str
    span_id: str
    labels: dict[str, str]


class LogResult(BaseModel):
    lines: list[LogLine]
    limit: int
    direction: str


class Pattern(BaseModel):
    template_id: str
    template: str = ""
    count: int
    example: str
    level: str
    first_half: int
    second_half: int
    trend: float | None
    first_ts: int
    last_ts: int
    clusters: list[str]


def _where(principal: Viewer, window: Window, cluster: list[str] | None, namespace: str | None,
           pod: str | None, container: str | None, app: str | None, label: list[str] | None,
           contains: str | None, regex: str | None, level: list[str] | None) -> Where | None:
    scope = principal.restrict(cluster)
    if scope is not None and not scope:
        return None
    if regex:
        if any(f in regex for f in FORBIDDEN_RE):
            raise bad_request("lookarounds and backreferences are not supported")
        try:
            re.compile(regex)
        except re.error as exc:
            raise bad_request(f"invalid regex: {exc}") from exc
    streams = {c: v for c, v in (("namespace", namespace), ("pod", pod),
                                 ("container", container), ("app", app)) if v}
    return q.where(clusters=scope, start_ms=window.start_ms, end_ms=window.end_ms,
                   streams=streams, labels=kv(label), contains=contains, regex=regex,
                   levels=list(level or []))


@router.get("", response_model=LogResult, dependencies=[Expensive])
def query(services: ServicesDep, principal: Viewer, window: Window,
          cluster: ClusterFilter = None, namespace: Text = None, pod: Text = None,
          container: Text = None, app: Text = None,
          label: Annotated[list[str] | None, Query(max_length=10, description="k=v")] = None,
          contains: Annotated[str | None, Query(max_length=1024)] = None,
          regex: Annotated[str | None, Query(max_length=1024)] = None,
          level: Annotated[list[Level] | None, Query(max_length=7)] = None,
          direction: Literal["forward", "backward"] = "backward",
          limit: Annotated[int, Query(ge=1, le=5000)] = 100) -> dict:
    w = _where(principal, window, cluster, namespace, pod, container, app, label, contains,
               regex, level)
    rows = [] if w is None else q.lines(services.pool, where=w, direction=direction, limit=limit)
    return {"lines": rows, "limit": limit, "direction": direction}


@router.get("/patterns", response_model=list[Pattern], dependencies=[Expensive])
def patterns(services: ServicesDep, principal: Viewer, window: Window,
             cluster: ClusterFilter = None, namespace: Text = None, app: Text = None,
             level: Annotated[list[Level] | None, Query(max_length=7)] = None,
             limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
    w = _where(principal, window, cluster, namespace, None, None, app, None, None, None, level)
    rows = [] if w is None else q.patterns(services.pool, where=w, start_ms=window.start_ms,
                                           end_ms=window.end_ms, limit=limit)
    for r in rows:
        r["trend"] = (round(r["second_half"] / r["first_half"], 4) if r["first_half"]
                      else None)
    return rows
