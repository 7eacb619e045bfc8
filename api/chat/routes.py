"""The chat API under ``/api/v1/chat``: personas, tools, sessions, messages (JSON or SSE).

Every tool is callable directly (``POST /chat/tools/{name}``) whether or not an LLM is
configured; a message without an available LLM answers 503 with the reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from api.auth.principal import Principal
from api.chat import tools
from api.chat.loop import ChatEvent, ChatLoop, ChatUnavailable
from api.chat.personas import PersonaIn, PersonaStore
from api.chat.sessions import ChatSession, SessionStore
from api.deps import Admin, Expensive, ServicesDep, Viewer, rate_limited
from api.errors import ApiError
from api.models.common import ERRORS
from api.services import Services
from streams.llm.chain import ProviderChain
from streams.llm.config import build_chain
from streams.llm.personas import Persona
from streams.logs_setup import get_logger
from streams.settings import Settings

log = get_logger(__name__)
router = APIRouter(prefix="/chat", tags=["chat"], responses=ERRORS)


@dataclass
class ChatState:
    """What the chat routes share: sessions, personas and the provider chain (or why not)."""

    settings: Settings
    sessions: SessionStore
    personas: PersonaStore
    chain: ProviderChain | None
    unavailable_reason: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> ChatState:
        chain, reason = None, None
        try:
            chain = build_chain(settings)
        except ValueError as exc:
            reason = f"LLM configuration error: {exc}"
        if chain is None and reason is None:
            reason = "no LLM provider configured (set AIOPS_LLM_PROVIDERS)"
        if reason:
            log.warning("chat_llm_unavailable", reason=reason)
        return cls(settings, SessionStore(settings.chat_session_ttl_s), PersonaStore(), chain,
                   reason)

    def loop(self, services: Services) -> ChatLoop:
        assert self.chain is not None
        s = self.settings
        return ChatLoop(self.chain, services, max_iterations=s.chat_max_iterations,
                        token_budget=s.chat_token_budget, max_tokens=s.llm_max_tokens,
                        result_chars=s.chat_tool_result_chars)


def get_chat(request: Request) -> ChatState:
    return request.app.state.chat


Chat = Annotated[ChatState, Depends(get_chat)]


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    persona: str = Field("default", max_length=40)


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=8000)


def _persona_view(persona: Persona, custom: bool) -> dict[str, Any]:
    return {"name": persona.name, "title": persona.title, "system_prompt": persona.system_prompt,
            "tools": list(persona.tools), "custom": custom}


@router.get("/status")
def status(chat: Chat, principal: Viewer) -> dict[str, Any]:
    """Whether chat can answer now, and why not."""
    return {"available": chat.chain is not None, "reason": chat.unavailable_reason,
            "providers": chat.chain.names if chat.chain else [], "tools": len(tools.TOOLS)}


@router.get("/personas")
def list_personas(chat: Chat, principal: Viewer) -> list[dict[str, Any]]:
    return [_persona_view(p, custom) for p, custom in chat.personas.all()]


@router.post("/personas", status_code=201)
def put_persona(body: PersonaIn, chat: Chat, principal: Admin, response: Response
                ) -> dict[str, Any]:
    """Create (201) or replace (200) a custom persona (admin)."""
    try:
        persona, created = chat.personas.put(body)
    except ValueError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    if not created:
        response.status_code = 200
    return _persona_view(persona, True)


@router.delete("/personas/{name}", status_code=204, response_class=Response)
def delete_persona(name: str, chat: Chat, principal: Admin) -> Response:
    try:
        deleted = chat.personas.delete(name)
    except ValueError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    if not deleted:
        raise ApiError(404, "not_found", "persona not found")
    return Response(status_code=204)


@router.get("/tools")
def list_tools(principal: Viewer) -> list[dict[str, Any]]:
    """Every read-only tool with its JSON-schema arguments."""
    return [{"name": t.name, "description": t.description, "parameters": t.spec().parameters}
            for t in tools.TOOLS.values()]


@router.post("/tools/{name}", dependencies=[Expensive])
def call_tool(name: str, services: ServicesDep, principal: Viewer,
              arguments: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
    """Run one tool directly with the caller's scope (no LLM involved)."""
    try:
        return {"tool": name, "result": tools.call(services, principal, name, arguments)}
    except tools.ToolError as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.details) from exc


def _session(chat: ChatState, principal: Principal, session_id: str) -> ChatSession:
    session = chat.sessions.get(session_id, principal.subject)
    if session is None:
        raise ApiError(404, "not_found", "chat session not found (or expired)")
    return session


@router.post("/sessions", status_code=201)
def create_session(chat: Chat, principal: Viewer,
                   body: Annotated[SessionCreate | None, Body()] = None) -> dict[str, Any]:
    persona = (body or SessionCreate()).persona
    if chat.personas.get(persona) is None:
        raise ApiError(400, "bad_request", f"unknown persona {persona!r}",
                       {"known": [p.name for p, _ in chat.personas.all()]})
    return chat.sessions.create(principal.subject, persona).summary(chat.sessions.ttl_s)


@router.get("/sessions")
def list_sessions(chat: Chat, principal: Viewer) -> list[dict[str, Any]]:
    return [s.summary(chat.sessions.ttl_s) for s in chat.sessions.list(principal.subject)]


@router.get("/sessions/{session_id}")
def get_session(session_id: str, chat: Chat, principal: Viewer) -> dict[str, Any]:
    session = _session(chat, principal, session_id)
    return {**session.summary(chat.sessions.ttl_s), "transcript": session.transcript()}


@router.delete("/sessions/{session_id}", status_code=204, response_class=Response)
def delete_session(session_id: str, chat: Chat, principal: Viewer) -> Response:
    if not chat.sessions.delete(session_id, principal.subject):
        raise ApiError(404, "not_found", "chat session not found (or expired)")
    return Response(status_code=204)


def _close(events: Iterator[ChatEvent]) -> None:
    with contextlib.suppress(ValueError):  # still running in its thread: it ends on its own
        events.close()


async def _start(chat: ChatState, services: Services, principal: Principal, session_id: str,
                 text: str) -> tuple[ChatSession, Iterator[ChatEvent], ChatEvent]:
    """Checks, then the turn's event iterator and its first event (503 if no LLM answers)."""
    if chat.chain is None:
        raise ApiError(503, "unavailable", "chat is unavailable: no LLM",
                       {"reason": chat.unavailable_reason, "tools": "/api/v1/chat/tools"})
    session = _session(chat, principal, session_id)
    persona = chat.personas.get(session.persona)
    if persona is None:
        raise ApiError(409, "conflict", f"persona {session.persona!r} no longer exists")
    if not session.busy.acquire(blocking=False):
        raise ApiError(409, "conflict", "this session is already answering a message")
    chat.sessions.touch(session)
    events = chat.loop(services).run(session, persona, principal, text)
    try:
        first = await run_in_threadpool(next, events)
    except ChatUnavailable as exc:
        session.busy.release()
        raise ApiError(503, "unavailable", "chat is unavailable: no LLM answered",
                       {"reason": exc.reason, "tools": "/api/v1/chat/tools"}) from exc
    except BaseException:
        session.busy.release()
        raise
    return session, events, first


@router.post("/sessions/{session_id}/messages", dependencies=[Expensive])
async def post_message(session_id: str, body: MessageIn, chat: Chat, services: ServicesDep,
                       principal: Viewer) -> dict[str, Any]:
    """Run one message to completion; the answer and every event as JSON."""
    session, events, first = await _start(chat, services, principal, session_id, body.content)
    collected = [first]
    try:
        async for event in iterate_in_threadpool(events):
            collected.append(event)
    finally:
        chat.sessions.touch(session)
        session.busy.release()
    done = collected[-1].data if collected[-1].type == "message_complete" else {}
    return {"session_id": session_id, "answer": done.get("text", ""), "usage": done,
            "events": [{"type": e.type, "data": e.data} for e in collected]}


@router.post("/sessions/{session_id}/messages/stream", response_class=StreamingResponse,
             dependencies=[Expensive], responses={200: {"content": {"text/event-stream": {}}}})
async def stream_message(session_id: str, body: MessageIn, chat: Chat, services: ServicesDep,
                         principal: Viewer) -> StreamingResponse:
    """Server-sent events: message_start, content_delta, tool_use, tool_result,
    message_complete (and error)."""
    session, events, first = await _start(chat, services, principal, session_id, body.content)

    async def body_iter() -> AsyncIterator[str]:
        try:
            yield first.sse()
            async for event in iterate_in_threadpool(events):
                yield event.sse()
        finally:
            _close(events)
            chat.sessions.touch(session)
            session.busy.release()

    return StreamingResponse(body_iter(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def install(app: FastAPI, settings: Settings, services: Services, prefix: str = "/api/v1"
            ) -> None:
    """Register the chat routes and the MCP endpoint on the API app."""
    from api import mcp_server  # the MCP SDK is imported only by apps that serve it

    app.state.chat = ChatState.from_settings(settings)
    app.include_router(router, prefix=prefix, dependencies=[Depends(rate_limited)])
    mcp_server.mount(app, services)
    original = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        try:
            async with original(application) as state:
                yield state
        finally:
            chain = application.state.chat.chain
            if chain is not None:
                chain.close()

    app.router.lifespan_context = lifespan
