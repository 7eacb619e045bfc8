"""Request dependencies: services, the caller, RBAC, cluster scope, paging, rate limits.

Dependencies that never block are ``async``: FastAPI runs sync ones on the thread
pool, one hop each per request, which costs most when the CPU is busy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from starlette.requests import HTTPConnection

from api.auth.principal import INSECURE_DEV, Principal, Role
from api.auth.tokenreview import TokenReviewError
from api.auth.tokens import PREFIX
from api.errors import ApiError
from api.services import Services


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def bearer(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    # Browsers cannot set headers on EventSource/WebSocket: allow ?access_token=.
    return request.query_params.get("access_token") or None


def principal_for(token: str | None, services: Services) -> Principal:
    """The principal of a bearer token, or 401 (503 when TokenReview is unreachable)."""
    challenge = {"WWW-Authenticate": 'Bearer realm="aiops"'}
    if not token:
        services.telemetry.auth_failures.labels("missing").inc()
        raise ApiError(401, "unauthorized", "missing bearer token", headers=challenge)
    principal = None
    if token.startswith(PREFIX) or services.reviewer is None:
        principal = services.tokens.verify(token)
    else:
        try:
            principal = services.reviewer.review(token)
        except TokenReviewError as exc:
            raise ApiError(503, "unavailable", "token review unavailable",
                           {"reason": str(exc)}) from exc
    if principal is None:
        services.telemetry.auth_failures.labels("invalid").inc()
        raise ApiError(401, "unauthorized", "invalid or expired token", headers=challenge)
    return principal


def authenticate(request: Request, services: ServicesDep) -> Principal:
    """The caller, or 401."""
    if request.app.state.insecure_dev:
        return INSECURE_DEV
    return principal_for(bearer(request), services)


CurrentUser = Annotated[Principal, Depends(authenticate)]


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting ``role`` or higher."""

    async def check(principal: CurrentUser, services: ServicesDep) -> Principal:
        if not principal.can(role):
            services.telemetry.auth_failures.labels("forbidden").inc()
            raise ApiError(403, "forbidden", f"this action needs the {role.value} role",
                           {"role": principal.role.value, "required": role.value})
        return principal

    return check


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


class PageParams:
    """``page`` (from 1) and ``page_size`` (1..100)."""

    def __init__(self, page: Annotated[int, Query(ge=1, le=100_000)] = 1,
                 page_size: Annotated[int, Query(ge=1, le=100)] = 50) -> None:
        self.page = page
        self.page_size = page_size

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


Paging = Annotated[PageParams, Depends()]


def _limit(bucket: str, per_min: Callable[[Services], int]) -> Callable[..., Awaitable[None]]:
    async def check(principal: CurrentUser, services: ServicesDep, response: Response) -> None:
        decision = services.limiter.take(f"{principal.subject}:{bucket}", per_min(services))
        if not decision.allowed:
            services.telemetry.rate_limited.labels(bucket).inc()
            raise ApiError(429, "rate_limited", f"rate limit exceeded ({bucket})",
                           {"bucket": bucket, "limit_per_min": decision.limit},
                           headers=decision.headers())
        if bucket == "all" or "X-RateLimit-Limit" not in response.headers:
            response.headers.update(decision.headers())

    return check


rate_limited = _limit("all", lambda s: s.settings.api_rate_limit_per_min)
expensive = _limit("expensive", lambda s: s.settings.api_expensive_rate_limit_per_min)
Expensive = Depends(expensive)


def scope_clusters(principal: Principal, wanted: list[str] | None) -> list[str] | None:
    """Clusters a query may read (None = all); [] means nothing visible."""
    return principal.restrict(wanted)


class TimeRange:
    """``start``/``end`` (ISO 8601 or epoch seconds); default: the last hour."""

    def __init__(self, start: Annotated[datetime | None, Query()] = None,
                 end: Annotated[datetime | None, Query()] = None) -> None:
        now = datetime.now(UTC)
        end_dt = _utc(end) if end else now
        start_dt = _utc(start) if start else end_dt - timedelta(hours=1)
        if start_dt >= end_dt:
            raise ApiError(400, "bad_request", "start must be before end",
                           {"start": start_dt.isoformat(), "end": end_dt.isoformat()})
        if end_dt - start_dt > timedelta(days=400):
            raise ApiError(400, "bad_request", "time range longer than 400 days")
        self.start_ms = int(start_dt.timestamp() * 1000)
        self.end_ms = int(end_dt.timestamp() * 1000)


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if not datetime(1971, 1, 1, tzinfo=UTC) <= dt <= datetime(2200, 1, 1, tzinfo=UTC):
        raise ApiError(400, "bad_request", "time out of range (1971..2200)")
    return dt


async def time_range(start: Annotated[datetime | None, Query()] = None,
                     end: Annotated[datetime | None, Query()] = None) -> TimeRange:
    """``TimeRange`` as a dependency (on the event loop: it never blocks)."""
    return TimeRange(start, end)


Window = Annotated[TimeRange, Depends(time_range)]
ClusterFilter = Annotated[list[str] | None, Query(alias="cluster", max_length=1000,
                                                   description="Repeat for several clusters")]
