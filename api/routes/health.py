"""``/health`` (process up), ``/ready`` (Kafka and ClickHouse reachable), ``/metrics``."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from api.deps import ServicesDep
from api.errors import ApiError

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    checks: dict[str, bool]


def kafka_reachable(bootstrap: str) -> bool:
    try:
        AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=3)
        return True
    except Exception:  # noqa: BLE001 - readiness only
        return False


@router.get("/health", response_model=Health)
def health() -> Health:
    return Health(status="ok")


@router.get("/ready", response_model=Ready, responses={503: {"description": "Not ready"}})
def ready(services: ServicesDep) -> Ready:
    checks = {"clickhouse": services.pool.ping(), "kafka": kafka_reachable(services.bootstrap),
              "registry": services.registry.caught_up.is_set()}
    if not all(checks.values()):
        raise ApiError(503, "unavailable", "not ready", {"checks": checks})
    return Ready(status="ready", checks=checks)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.telemetry.registry),
                    media_type=CONTENT_TYPE_LATEST)
