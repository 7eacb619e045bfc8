"""Notification management: routing document, endpoints (webhooks), routes, delivery log.

Routing is fleet-wide: reading or changing it needs the operator role *and* an
unscoped token (a cluster-scoped token gets 403). The delivery log is readable by
viewers, filtered to the token's clusters.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.auth.principal import Principal
from api.deps import ClusterFilter, Operator, Paging, ServicesDep, Viewer, Window
from api.errors import ApiError, not_found
from api.models.common import ERRORS, Page
from api.models.notifications import (
    EndpointPut,
    EndpointView,
    NotificationAttempt,
    NotificationDelivery,
    RoutingBody,
    RoutingView,
)
from api.queries import notifications as q
from api.queries import routing as docs
from api.services import Services
from connectors.notify.routing import Route, RoutingError

router = APIRouter(prefix="/notifications", tags=["notifications"], responses={
    **ERRORS, 409: ERRORS[400] | {"description": "Conflict"},
    413: ERRORS[400] | {"description": "Document too large"},
    415: ERRORS[400] | {"description": "Unsupported content type"}})

JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
_BODY_SCHEMA = RoutingBody.model_json_schema()
DOCUMENT_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": _BODY_SCHEMA},
    "application/yaml": {"schema": _BODY_SCHEMA}}}}
EndpointName = Annotated[str, Path(min_length=1, max_length=256)]
Text = Annotated[str | None, Query(min_length=1, max_length=512)]
States = Literal["PENDING", "DELIVERED", "DEAD", "MUTED", "THROTTLED", "SUPERSEDED"]
Statuses = Literal["OK", "HTTP_ERROR", "TIMEOUT", "CONNECT_ERROR", "CONFIG_ERROR",
                   "CIRCUIT_OPEN"]
Events = Literal["OPEN", "UPDATED", "RESOLVED", "RCA", "ANOMALY"]


def fleet_operator(principal: Operator) -> Principal:
    """An operator whose token is not limited to some clusters (routing is fleet-wide)."""
    if principal.clusters is not None:
        raise ApiError(403, "forbidden", "notification routing is fleet-wide: a cluster-scoped "
                       "token can neither read nor change it", {"scope": "fleet"})
    return principal


FleetOperator = Annotated[Principal, Depends(fleet_operator)]


def _store(services: Services) -> docs.RoutingStore:
    return docs.RoutingStore(services.pool, services.settings.notify_routes)


def _invalid(exc: RoutingError) -> ApiError:
    return ApiError(422, "invalid_routing", str(exc))


def _effective(services: Services) -> dict[str, Any]:
    return docs.view(_store(services).read())


def _save(services: Services, principal: Principal, doc: dict[str, Any],
          text: str | None = None) -> None:
    """Store ``doc`` (``text``: its original YAML, kept when nothing was restored)."""
    try:
        _store(services).save(text if text is not None else docs.dump(doc), doc, principal.name)
    except RoutingError as exc:
        raise _invalid(exc) from exc


async def document_body(request: Request) -> tuple[str, bool]:
    """The raw request body (text, is-JSON); 413/415/400 for what cannot be a document."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_json = ctype in JSON_TYPES or ctype.endswith("+json")
    if not is_json and ctype not in YAML_TYPES:
        raise ApiError(415, "unsupported_media", "send the routing document as application/json"
                       " or application/yaml", {"content_type": ctype[:100]})
    body = await request.body()
    if len(body) > docs.MAX_DOCUMENT_BYTES:
        raise ApiError(413, "too_large", "routing document too large",
                       {"limit_bytes": docs.MAX_DOCUMENT_BYTES})
    try:
        return body.decode("utf-8"), is_json
    except UnicodeDecodeError as exc:
        raise ApiError(400, "bad_request", "routing document is not UTF-8") from exc


@router.get("/routing", response_model=RoutingView)
def get_routing(services: ServicesDep, principal: FleetOperator) -> dict:
    """The effective routing document (secrets redacted) and where it comes from."""
    return _effective(services)


@router.put("/routing", response_model=RoutingView, openapi_extra=DOCUMENT_BODY)
def put_routing(services: ServicesDep, principal: FleetOperator,
                body: Annotated[tuple[str, bool], Depends(document_body)]) -> dict:
    """Validate and store a new document (the notifier picks it up on its next reload)."""
    text, is_json = body
    try:
        doc = docs.load(text, json_body=is_json)
        _, current = _store(services).current()
        doc, restored = docs.restore(doc, current)
    except RoutingError as exc:
        raise _invalid(exc) from exc
    _save(services, principal, doc, None if (is_json or restored) else text)
    return _effective(services)


@router.delete("/routing", response_model=RoutingView)
def reset_routing(services: ServicesDep, principal: FleetOperator) -> dict:
    """Drop the stored override: the YAML file (AIOPS_NOTIFY_ROUTES) applies again."""
    _store(services).reset(principal.name)
    return _effective(services)


@router.get("/routes", response_model=list[Route])
def list_routes(services: ServicesDep, principal: FleetOperator) -> list[dict]:
    """The routes of the effective document, in evaluation order."""
    return _effective(services)["routes"]


@router.get("/endpoints", response_model=list[EndpointView])
def list_endpoints(services: ServicesDep, principal: FleetOperator) -> list[dict]:
    """Every endpoint (webhook or Alertmanager), secrets redacted."""
    return _effective(services)["endpoints"]


@router.get("/endpoints/{name}", response_model=EndpointView)
def get_endpoint(name: EndpointName, services: ServicesDep, principal: FleetOperator) -> dict:
    for e in _effective(services)["endpoints"]:
        if e["name"] == name:
            return e
    raise not_found("endpoint", name)


@router.put("/endpoints/{name}", response_model=EndpointView)
def put_endpoint(name: EndpointName, body: EndpointPut, services: ServicesDep,
                 principal: FleetOperator) -> dict:
    """Create or replace one endpoint in the stored document (validated as a whole)."""
    _, doc = _store(services).current()
    items = doc.get("endpoints") if isinstance(doc.get("endpoints"), list) else []
    old = next((e for e in items if isinstance(e, dict) and e.get("name") == name), None)
    entry: dict[str, Any] = {"name": name, **body.model_dump(
        exclude_unset=True, exclude_none=True, exclude={"secret"})}
    if "secret" in body.model_fields_set:
        if body.secret is not None:
            entry["secret"] = body.secret
    elif old is not None and old.get("secret") and not (body.secret_env or body.secret_file):
        entry["secret"] = old["secret"]  # omitted: keep the stored secret
    try:
        restored, _ = docs.restore({"endpoints": [entry]}, {"endpoints": [old] if old else []})
        entry = restored["endpoints"][0]
    except RoutingError as exc:
        raise _invalid(exc) from exc
    doc["endpoints"] = [entry if e is old else e for e in items] if old else [*items, entry]
    doc.setdefault("routes", [])
    _save(services, principal, doc)
    return get_endpoint(name, services, principal)


@router.delete("/endpoints/{name}", status_code=204, response_class=Response)
def delete_endpoint(name: EndpointName, services: ServicesDep,
                    principal: FleetOperator) -> Response:
    """Remove an endpoint; 409 while a route still names it."""
    _, doc = _store(services).current()
    items = doc.get("endpoints") if isinstance(doc.get("endpoints"), list) else []
    keep = [e for e in items if not (isinstance(e, dict) and e.get("name") == name)]
    if len(keep) == len(items):
        raise not_found("endpoint", name)
    users = [r.get("name") for r in doc.get("routes") or []
             if isinstance(r, dict) and name in (r.get("endpoints") or [])]
    if users:
        raise ApiError(409, "conflict", "routes still deliver to this endpoint",
                       {"routes": users})
    doc["endpoints"] = keep
    _save(services, principal, doc)
    return Response(status_code=204)


@router.get("/deliveries", response_model=Page[NotificationDelivery])
def list_deliveries(services: ServicesDep, principal: Viewer, paging: Paging, window: Window,
                    cluster: ClusterFilter = None, endpoint: Text = None,
                    state: Annotated[list[States] | None, Query(max_length=6)] = None,
                    event: Events | None = None, subject: Text = None, incident: Text = None,
                    key: Text = None) -> dict:
    """Where each notification stands per endpoint (created in the window), newest first."""
    return _page(services, principal, paging, window, cluster, q.deliveries, "created_ts",
                 endpoint=endpoint, states=list(state or []), event=event,
                 subject=_subject(subject, incident), key=key)


@router.get("/attempts", response_model=Page[NotificationAttempt])
def list_attempts(services: ServicesDep, principal: Viewer, paging: Paging, window: Window,
                  cluster: ClusterFilter = None, endpoint: Text = None,
                  status: Annotated[list[Statuses] | None, Query(max_length=6)] = None,
                  event: Events | None = None, subject: Text = None, incident: Text = None,
                  key: Text = None) -> dict:
    """Every HTTP attempt (made in the window), newest first."""
    return _page(services, principal, paging, window, cluster, q.attempts, "timestamp",
                 endpoint=endpoint, states=list(status or []), state_column="status",
                 event=event, subject=_subject(subject, incident), key=key)


def _subject(subject: str | None, incident: str | None) -> str | None:
    if subject is not None and incident is not None and subject != f"incident:{incident}":
        raise ApiError(400, "bad_request", "subject and incident disagree")
    return subject if subject is not None else (f"incident:{incident}" if incident else None)


def _page(services: Services, principal: Principal, paging: Any, window: Any,
          cluster: list[str] | None, fetch: Any, time_column: str, **filters: Any) -> dict:
    scope = principal.restrict(cluster)
    items, total = [], 0
    if scope is None or scope:
        w = q.log_filters(clusters=scope, start_ms=window.start_ms, end_ms=window.end_ms,
                          time_column=time_column, **filters)
        items, total = fetch(services.pool, where=w, offset=paging.offset,
                             limit=paging.page_size)
    return {"items": items, "total": total, "page": paging.page, "page_size": paging.page_size}
