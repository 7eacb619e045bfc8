"""Live events over SSE and WebSocket, filtered by type, cluster and namespace, resumable.

A client resumes with the last event id it received (SSE ``Last-Event-ID`` header,
sent by browsers on reconnect, or ``last_event_id=``) or from a time
(``since=``, epoch ms or ISO 8601): the missed events are replayed from Kafka with
the same filters and scope, then the stream continues live (see :mod:`api.replay`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from api.auth.principal import INSECURE_DEV, Principal
from api.deps import ClusterFilter, ServicesDep, Viewer, bearer, principal_for, rate_limited
from api.errors import ApiError
from api.live import EVENT_TYPES, Event, Filters, LiveHub, Subscriber
from api.models.common import ERRORS
from api.replay import Replayer, ReplayError, ReplayLimits, parse_since
from api.services import Services

router = APIRouter(prefix="/stream", tags=["stream"], responses=ERRORS)
Types = Annotated[list[str] | None, Query(alias="type", max_length=10,
                                          description=", ".join(EVENT_TYPES))]
Namespaces = Annotated[list[str] | None, Query(alias="namespace", max_length=100)]
Since = Annotated[str | None, Query(max_length=64, description=(
    "Replay from this time (epoch ms or ISO 8601), then continue live"))]
LastEventId = Annotated[str | None, Query(max_length=16_384, description=(
    "Replay after this event id, then continue live (as the Last-Event-ID header)"))]
REPLAY_CHUNK = 500


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


async def subscribe_from(services: Services, filters: Filters, last_event_id: str | None,
                         since: str | None) -> tuple[Subscriber, list[Event]]:
    """Subscribe, and replay what came before (from ``last_event_id`` or ``since``).

    The hub's position at the moment of subscribing ends the replay: every later
    event reaches the subscriber's queue live, every earlier one comes from Kafka.
    """
    hub: LiveHub = services.hub
    if not last_event_id and not since:
        return hub.subscribe(filters), []
    try:
        since_ms = parse_since(since) if since and not last_event_id else None
    except ReplayError as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.details or None) from exc
    relay = services.relay
    if relay is None or hub.codec is None:
        raise ApiError(503, "unavailable", "replay needs the topic relay (not running here)")
    settings = services.settings
    replayer = Replayer(services.bootstrap, relay.routes, hub.codec, ReplayLimits(
        settings.api_stream_replay_max_events, settings.api_stream_replay_max_age_s))
    sub = hub.subscribe(filters)
    stop = hub.positions
    try:
        events = await run_in_threadpool(replayer.replay, stop, filters,
                                         last_event_id=last_event_id or None, since_ms=since_ms)
    except ReplayError as exc:
        hub.unsubscribe(sub)
        raise ApiError(exc.status, exc.code, exc.message, exc.details or None) from exc
    except BaseException:
        hub.unsubscribe(sub)
        raise
    return sub, events


class SubscriptionResponse(StreamingResponse):
    """A stream that always ends its subscription, even if the body never started."""

    def __init__(self, content: AsyncIterator[bytes], on_close: Callable[[], None],
                 **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_close()


def _sse(kind: str, data: str, event_id: str = "") -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {kind}\ndata: {data}\n\n".encode()


def _heartbeat(sub: Subscriber) -> dict:
    return {"ts_ms": int(time.time() * 1000), "dropped_total": sub.dropped}


def _resume_id(hub: LiveHub, sub: Subscriber) -> str:
    """A heartbeat's id: the hub's position, valid only while nothing is queued."""
    return "" if sub.queue else hub.position_id


@router.get("/sse", response_class=StreamingResponse, dependencies=[Depends(rate_limited)],
            responses={200: {"content": {"text/event-stream": {}}}})
async def sse(request: Request, services: ServicesDep, principal: Viewer, types: Types = None,
              cluster: ClusterFilter = None, namespace: Namespaces = None, since: Since = None,
              last_event_id: LastEventId = None,
              last_event_id_header: Annotated[str | None, Header(
                  alias="Last-Event-ID", include_in_schema=False)] = None,
              ) -> StreamingResponse:
    """Server-sent events: ``event:`` is the event type, plus ``heartbeat`` and ``dropped``.

    Every event has an ``id:`` (heartbeats too, when nothing is pending); reconnecting
    with it as ``Last-Event-ID`` replays exactly the missed events.
    """
    filters = make_filters(principal, types, cluster, namespace)
    hub: LiveHub = services.hub
    sub, replayed = await subscribe_from(services, filters,
                                         last_event_id_header or last_event_id, since)
    interval = services.settings.api_stream_heartbeat_s
    telemetry = services.telemetry

    sent = telemetry.stream_sent.labels("sse")  # bound once: counted per batch

    async def body() -> AsyncIterator[bytes]:
        telemetry.stream_clients.labels("sse").inc()
        try:
            yield _sse("heartbeat", json.dumps(_heartbeat(sub)))
            for i in range(0, len(replayed), REPLAY_CHUNK):
                yield b"".join(e.sse for e in replayed[i:i + REPLAY_CHUNK])
            telemetry.stream_replayed.labels("sse").inc(len(replayed))
            while True:
                batch = await sub.next_batch(interval)
                chunks = []
                drops = sub.new_drops()
                if drops:
                    telemetry.stream_dropped.inc(drops)
                    chunks.append(_sse("dropped", json.dumps({"count": drops,
                                                              "total": sub.dropped})))
                chunks.extend(e.sse for e in batch)
                if not batch:
                    chunks.append(_sse("heartbeat", json.dumps(_heartbeat(sub)),
                                       _resume_id(hub, sub)))
                sent.inc(len(batch))
                yield b"".join(chunks)
        finally:
            hub.unsubscribe(sub)
            telemetry.stream_clients.labels("sse").dec()

    return SubscriptionResponse(body(), lambda: hub.unsubscribe(sub),
                                media_type="text/event-stream",
                                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _receive_filters(ws: WebSocket, hub: LiveHub, sub: Subscriber,
                           principal: Principal) -> None:
    """Clients may send {"types": [...], "clusters": [...], "namespaces": [...]}."""
    while True:
        text = await ws.receive_text()
        try:
            msg = json.loads(text)
            hub.refilter(sub, make_filters(principal, msg.get("types"), msg.get("clusters"),
                                           msg.get("namespaces")))
            await ws.send_text(json.dumps({"type": "subscribed", "filters": {
                "types": msg.get("types"), "clusters": msg.get("clusters"),
                "namespaces": msg.get("namespaces")}}))
        except (ValueError, AttributeError, TypeError, ApiError) as exc:
            await ws.send_text(json.dumps({"type": "error", "message": str(exc)}))


@router.websocket("/ws")
async def websocket(ws: WebSocket, types: Types = None, cluster: ClusterFilter = None,
                    namespace: Namespaces = None, since: Since = None,
                    last_event_id: LastEventId = None) -> None:
    """WebSocket: JSON messages {type: event|heartbeat|dropped|subscribed|error}.

    Events carry ``event.id``; connect with ``last_event_id=`` (or ``since=``) to replay.
    Bad tokens or filters refuse the handshake; a position that cannot be replayed gets
    an ``error`` message and a close code of 4000 + the HTTP status (4400, 4410, 4503).
    """
    services: Services = ws.app.state.services
    hub = services.hub
    try:
        principal = (INSECURE_DEV if ws.app.state.insecure_dev
                     else principal_for(bearer(ws), services))
        filters = make_filters(principal, types, cluster, namespace)
    except ApiError as exc:
        await ws.close(code=4401 if exc.status == 401 else 4400, reason=exc.message)
        return
    await ws.accept()
    try:
        sub, replayed = await subscribe_from(services, filters, last_event_id, since)
    except ApiError as exc:
        await ws.send_text(json.dumps({"type": "error", "code": exc.code,
                                       "message": exc.message, "details": exc.details}))
        await ws.close(code=4000 + exc.status, reason=exc.message[:120])
        return
    telemetry = services.telemetry
    telemetry.stream_clients.labels("ws").inc()
    reader = asyncio.create_task(_receive_filters(ws, hub, sub, principal))
    try:
        for e in replayed:
            await ws.send_text(e.ws)
        telemetry.stream_replayed.labels("ws").inc(len(replayed))
        while not reader.done():
            batch = await sub.next_batch(services.settings.api_stream_heartbeat_s)
            drops = sub.new_drops()
            if drops:
                telemetry.stream_dropped.inc(drops)
                await ws.send_text(json.dumps({"type": "dropped", "count": drops,
                                               "total": sub.dropped}))
            if not batch:
                await ws.send_text(json.dumps({"type": "heartbeat", **_heartbeat(sub),
                                               "id": _resume_id(hub, sub)}))
            for e in batch:
                await ws.send_text(e.ws)
            telemetry.stream_sent.labels("ws").inc(len(batch))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        reader.cancel()
        hub.unsubscribe(sub)
        telemetry.stream_clients.labels("ws").dec()
