"""Notification routing (endpoints, routes) and the delivery log."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.notify.routing import Route


class EndpointView(BaseModel):
    """An endpoint as the API shows it: secrets are never returned."""

    name: str
    type: str
    format: str
    url: str = Field(description="User password and query values shown as <redacted>")
    timeout_s: float
    headers: dict[str, str] = Field(description="Header names; every value is <redacted>")
    secret_set: bool = Field(description="An HMAC secret (inline, env or file) is configured")
    secret_env: str | None
    secret_file: str | None


class EndpointPut(BaseModel):
    """An endpoint to create or replace (the name comes from the path).

    ``secret`` is write-only: omit it to keep the stored one, ``null`` removes it. A
    header value or url equal to what GET shows (``<redacted>``) keeps the stored value.
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["webhook", "alertmanager"] = "webhook"
    format: Literal["alertmanager", "generic", "slack"] = "generic"
    url: str = Field(min_length=1, max_length=2048)
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    secret: str | None = Field(default=None, min_length=1, max_length=4096)
    secret_env: str | None = Field(default=None, min_length=1, max_length=256)
    secret_file: str | None = Field(default=None, min_length=1, max_length=1024)


class RoutingView(BaseModel):
    """The effective routing document (redacted) and its parsed form."""

    text: str = Field(description="The YAML document; secrets shown as <redacted>")
    source: Literal["clickhouse", "file", "empty"]
    updated_ms: int | None = Field(description="When the stored override was saved")
    actor: str = Field(description="Who saved it")
    endpoints: list[EndpointView]
    routes: list[Route]
    error: str | None = Field(
        default=None, description="Why the effective document is unusable (the notifier then "
        "keeps its last good one); endpoints and routes are empty then")


class RoutingBody(BaseModel):
    """A routing document as JSON (YAML is accepted as ``application/yaml``)."""

    endpoints: list[dict[str, Any]] = Field(default_factory=list)
    routes: list[dict[str, Any]] = Field(default_factory=list)


class NotificationDelivery(BaseModel):
    """Current state of one notification for one endpoint."""

    idempotency_key: str
    endpoint: str
    endpoint_type: str
    route: str
    group_key: str
    subject: str
    event: str
    cluster: str
    severity: str
    state: str
    attempts: int
    created_ts: int
    updated_ts: int
    next_attempt_ts: int
    delivered_ts: int | None
    last_error: str


class NotificationAttempt(BaseModel):
    """One HTTP attempt."""

    timestamp: int
    idempotency_key: str
    endpoint: str
    endpoint_type: str
    kind: str
    route: str
    subject: str
    event: str
    cluster: str
    attempt: int
    status: str
    http_status: int
    latency_ms: float
    error: str
    worker: str
