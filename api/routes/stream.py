"""Live events over SSE and WebSocket, filtered by type, cluster and namespace."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from api.auth.principal import INSECURE_DEV, Principal
from api.deps import ClusterFilter, ServicesDep, Viewer, bearer, principal_for, rate_limited
from api.errors import ApiError
from api.live import EVENT_TYPES, Event, Filters, Subscriber
from api.models.common import ERRORS

router = APIRouter(prefix="/stream", tags=["stream"], responses=ERRORS)
Types = Annotated[list[str] | None, Query(alias="type", max_length=10,
                                          description=", ".join(EVENT_TYPES))]
Namespaces = Annotated[list[str] | None, Query(alias="namespace", max_length=100)]


def make_filters(principal: Principal, types: list[str] | None, clusters: list[str] | None,
                 namespaces: list[str] | None) -> Filters:
    bad = sorted(set(types or []) - set(EVENT_TYPES))
    if bad:
        raise ApiError(400, "bad_request", f"unknown event types {bad}",
                       {"allowed": list(EVENT_TYPES)})
    scope = principal.restrict(clusters)
    return Filters(frozenset(types) if types else None,
                   frozenset(scope) if scope is not None else None,
                   frozenset(namespaces) if namespaces else None)


def _sse(kind: str, data: str, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {data}\n\n"


def _heartbeat(sub: Subscriber) -> str:
    return json.dumps({"ts_ms": int(time.time() * 1000), "dropped_total": sub.dropped})


@router.get("/sse", response_class=StreamingResponse, dependencies=[Depends(rate_limited)],
            responses={200: {"content": {"text/event-stream": {}}}})
async def sse(request: Request, services: ServicesDep, principal: Viewer, types: Types = None,
              cluster: ClusterFilter = None, namespace: Namespaces = None) -> StreamingResponse:
    """Server-sent events: ``event:`` is the event type, plus ``heartbeat`` and ``dropped``."""
    sub = services.hub.subscribe(make_filters(principal, types, cluster, namespace))
    interval = services.settings.api_stream_heartbeat_s
    telemetry = services.telemetry

    async def body() -> AsyncIterator[str]:
        telemetry.stream_clients.labels("sse").inc()
        try:
            yield _sse("heartbeat", _heartbeat(sub))
            while True:
                batch = await sub.next_batch(interval)
                chunks = []
                drops = sub.new_drops()
                if drops:
                    telemetry.stream_dropped.inc(drops)
                    chunks.append(_sse("dropped", json.dumps({"count": drops,
                                                              "total": sub.dropped})))
                chunks.extend(_sse(e.type, e.json, e.id) for e in batch)
                if not batch:
                    chunks.append(_sse("heartbeat", _heartbeat(sub)))
                telemetry.stream_sent.labels("sse").inc(len(batch))
                yield "".join(chunks)
        finally:
            services.hub.unsubscribe(sub)
            telemetry.stream_clients.labels("sse").dec()

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _receive_filters(ws: WebSocket, sub: Subscriber, principal: Principal) -> None:
    """Clients may send {"types": [...], "clusters": [...], "namespaces": [...]}."""
    while True:
        text = await ws.receive_text()
        try:
            msg = json.loads(text)
            sub.filters = make_filters(principal, msg.get("types"), msg.get("clusters"),
                                       msg.get("namespaces"))
            await ws.send_text(json.dumps({"type": "subscribed", "filters": {
                "types": msg.get("types"), "clusters": msg.get("clusters"),
                "namespaces": msg.get("namespaces")}}))
        except (ValueError, AttributeError, TypeError, ApiError) as exc:
            await ws.send_text(json.dumps({"type": "error", "message": str(exc)}))


@router.websocket("/ws")
async def websocket(ws: WebSocket, types: Types = None, cluster: ClusterFilter = None,
                    namespace: Namespaces = None) -> None:
    """WebSocket: JSON messages {type: event|heartbeat|dropped|subscribed|error}."""
    services = ws.app.state.services
    try:
        principal = (INSECURE_DEV if ws.app.state.insecure_dev
                     else principal_for(bearer(ws), services))
        filters = make_filters(principal, types, cluster, namespace)
    except ApiError as exc:
        await ws.close(code=4401 if exc.status == 401 else 4400, reason=exc.message)
        return
    await ws.accept()
    sub = services.hub.subscribe(filters)
    telemetry = services.telemetry
    telemetry.stream_clients.labels("ws").inc()
    reader = asyncio.create_task(_receive_filters(ws, sub, principal))
    try:
        while not reader.done():
            batch = await sub.next_batch(services.settings.api_stream_heartbeat_s)
            drops = sub.new_drops()
            if drops:
                telemetry.stream_dropped.inc(drops)
                await ws.send_text(json.dumps({"type": "dropped", "count": drops,
                                               "total": sub.dropped}))
            if not batch:
                await ws.send_text(json.dumps({"type": "heartbeat", **json.loads(
                    _heartbeat(sub))}))
            for e in batch:
                await ws.send_text(_ws_event(e))
            telemetry.stream_sent.labels("ws").inc(len(batch))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        reader.cancel()
        services.hub.unsubscribe(sub)
        telemetry.stream_clients.labels("ws").dec()


def _ws_event(e: Event) -> str:
    return '{"type": "event", "event": ' + e.json + "}"
