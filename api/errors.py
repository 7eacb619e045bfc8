"""The error envelope ``{error: {code, message, details, request_id}}`` for every failure."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from streams.logs_setup import get_logger

log = get_logger(__name__)

HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media",
    422: "invalid_request", 429: "rate_limited", 500: "internal", 502: "upstream_error",
    503: "unavailable", 504: "timeout",
}


class ApiError(Exception):
    """An error answered with ``status`` and the envelope."""

    def __init__(self, status: int, code: str, message: str,
                 details: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def bad_request(message: str, **details: Any) -> ApiError:
    """A 400 for input we refuse (bad matcher, identifier outside an allow-list ...)."""
    return ApiError(400, "bad_request", message, details or None)


def not_found(what: str, key: str) -> ApiError:
    """A 404 that does not echo ``key`` (a scoped caller learns nothing either way)."""
    del key
    return ApiError(404, "not_found", f"{what} not found", {"resource": what})


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "") or ""


def envelope(request: Request, status: int, code: str, message: str, details: Any = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error response."""
    rid = request_id(request)
    body = {"error": {"code": code, "message": message, "details": details, "request_id": rid}}
    return JSONResponse(body, status_code=status, headers={**(headers or {}), "X-Request-ID": rid})


def _jsonable_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))} for e in errors]


def install(app: FastAPI) -> None:
    """Route every exception through the envelope."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return envelope(request, exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return envelope(request, 422, "invalid_request", "request validation failed",
                        _jsonable_errors(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        return envelope(request, exc.status_code, code, str(exc.detail), None,
                        dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.error("api_unhandled_error", path=request.url.path, error=repr(exc),
                  request_id=request_id(request))
        return envelope(request, 500, "internal", "internal error", {"type": type(exc).__name__})
