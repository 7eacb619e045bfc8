"""Shared shapes: pagination, error envelope, partial-result reporting."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a list: ``items`` of ``total`` matches."""

    items: list[T]
    page: int = Field(ge=1)
    page_size: int = Field(ge=1, le=100)
    total: int = Field(ge=0)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None
    request_id: str


class ErrorEnvelope(BaseModel):
    """Every non-2xx answer."""

    error: ErrorBody


class ClusterCoverage(BaseModel):
    """Per-cluster outcome of a federated query."""

    cluster: str
    status: str = Field(description="ok, no_data, offline or unknown")
    rows: int = 0


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope, "description": desc}
    for code, desc in ((400, "Bad request"), (401, "Unauthenticated"), (403, "Forbidden"),
                       (404, "Not found"), (422, "Invalid request"), (429, "Rate limited"),
                       (503, "Dependency unavailable"))
}
