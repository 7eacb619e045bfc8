"""API token shapes (the secret appears once, in the create answer)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.auth.principal import Role


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    role: Role = Role.VIEWER
    clusters: list[str] = Field(default_factory=list, max_length=1000,
                                description="Cluster scope; empty = every cluster")
    expires_at: datetime | None = None


class Token(BaseModel):
    token_id: str
    name: str
    role: str
    clusters: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked: bool


class TokenCreated(Token):
    token: str = Field(description="The bearer token; shown only once")
