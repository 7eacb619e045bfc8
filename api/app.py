"""The Query API application factory.

``create_app(settings, services=...)`` wires the routers under ``/api/v1`` (every
one behind authentication and the per-token rate limit), ``/health``, ``/ready``
and ``/metrics``, the error envelope, and the lifespan that starts the registry
consumer and the live relay. Without any configured authentication (no active
static token and no TokenReview URL) it refuses to build unless ``insecure_dev``.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from api import errors
from api.chat import routes as chat
from api.deps import rate_limited
from api.routes import (
    alerts,
    anomalies,
    clusters,
    cnf,
    fleet,
    gpu,
    health,
    incidents,
    logs,
    metrics,
    notifications,
    stream,
    tokens,
    traces,
)
from api.services import Services
from api.telemetry import RequestMiddleware
from streams.logs_setup import get_logger
from streams.settings import Settings

log = get_logger(__name__)
API_PREFIX = "/api/v1"
RESOURCES = (clusters, fleet, metrics, gpu, cnf, traces, logs, alerts, anomalies, incidents,
             notifications, tokens)


class ConfigurationError(Exception):
    """The API would run without authentication and ``--insecure-dev`` was not given."""


def check_auth_configured(services: Services, insecure_dev: bool) -> None:
    """Refuse to serve without an authentication source (no silent bypass)."""
    if insecure_dev:
        log.warning("api_insecure_dev", detail="authentication DISABLED: every caller is admin")
        return
    if services.reviewer is None and services.tokens.count_active() == 0:
        raise ConfigurationError(
            "no authentication configured: create a token with `aiops token create --role "
            "admin`, or set AIOPS_API_TOKENREVIEW_URL, or run with --insecure-dev (local only)")


def freeze_startup_heap() -> None:
    """Move everything alive after start-up out of the cyclic GC's reach (``gc.freeze``).

    The imported libraries and services are hundreds of thousands of long-lived objects;
    every full collection walked them all and held the GIL for 200-330 ms, stalling the
    live-stream relay (measured in bench/stream_fanout.py: delivery p95 241 ms before,
    30 ms after). Objects created later are still collected as usual.
    """
    gc.collect()
    gc.freeze()


def create_app(settings: Settings, services: Services, *, insecure_dev: bool = False) -> FastAPI:
    """The ASGI app over ``services`` (started by the app's lifespan, stopped at its end)."""
    check_auth_configured(services, insecure_dev)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.hub.bind(asyncio.get_running_loop())
        await run_in_threadpool(services.start)
        freeze_startup_heap()
        try:
            yield
        finally:
            await run_in_threadpool(services.stop)

    app = FastAPI(title="AIOps NextGen Query API", version="1.0.0", lifespan=lifespan,
                  description="Fleet registry, history queries and live events. "
                  "Every /api/v1 route needs `Authorization: Bearer <token>`.")
    app.state.services = services
    app.state.insecure_dev = insecure_dev
    errors.install(app)
    app.add_middleware(RequestMiddleware, telemetry=services.telemetry, insecure_dev=insecure_dev)
    app.include_router(health.router)
    v1 = APIRouter(prefix=API_PREFIX, dependencies=[Depends(rate_limited)])
    for module in RESOURCES:
        v1.include_router(module.router)
    app.include_router(v1)
    app.include_router(stream.router, prefix=API_PREFIX)
    chat.install(app, settings, services, API_PREFIX)
    return app
