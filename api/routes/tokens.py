"""Static API tokens (admin only)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response

from api.deps import Admin, ServicesDep
from api.errors import ApiError, not_found
from api.models.common import ERRORS
from api.models.tokens import Token, TokenCreate, TokenCreated

router = APIRouter(prefix="/tokens", tags=["tokens"], responses=ERRORS)


@router.get("", response_model=list[Token])
def list_tokens(services: ServicesDep, principal: Admin) -> list[dict]:
    tokens = services.tokens.list()
    if principal.clusters is not None:  # a scoped admin sees only tokens inside its scope
        tokens = [t for t in tokens if t.clusters and set(t.clusters) <= principal.clusters]
    return [asdict(t) for t in tokens]


@router.post("", response_model=TokenCreated, status_code=201)
def create_token(body: TokenCreate, services: ServicesDep, principal: Admin) -> dict:
    if principal.clusters is not None and (not body.clusters
                                           or not set(body.clusters) <= principal.clusters):
        raise ApiError(403, "forbidden", "a scoped admin can only mint tokens within its scope")
    token, info = services.tokens.create(body.name, body.role, body.clusters, body.expires_at)
    return {**asdict(info), "token": token}


@router.delete("/{token_id}", status_code=204, response_class=Response)
def revoke_token(token_id: str, services: ServicesDep, principal: Admin) -> Response:
    if principal.clusters is not None:
        raise ApiError(403, "forbidden", "only an unscoped admin may revoke tokens")
    if not services.tokens.revoke(token_id):
        raise not_found("token", token_id)
    return Response(status_code=204)
