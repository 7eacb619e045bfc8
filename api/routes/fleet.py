"""Fleet summary and health over the clusters the caller may see."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep, Viewer
from api.models.clusters import FleetHealth, FleetSummary
from api.models.common import ERRORS
from api.queries import fleet

router = APIRouter(prefix="/fleet", tags=["fleet"], responses=ERRORS)


@router.get("/summary", response_model=FleetSummary)
def summary(services: ServicesDep, principal: Viewer) -> dict:
    return fleet.summary(fleet.visible(services.registry.all(), principal.clusters))


@router.get("/health", response_model=FleetHealth)
def health(services: ServicesDep, principal: Viewer) -> dict:
    return fleet.health(fleet.visible(services.registry.all(), principal.clusters),
                        services.registry.now_ms())
