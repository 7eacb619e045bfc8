"""A JSON answer serialised in one pass (no response-model validation round trip).

Routes whose answers are large and already shaped by our own code (range query
points) return :func:`fast_json`: ``pydantic_core.to_json`` writes the bytes in
Rust. The route keeps its ``response_model`` for the OpenAPI document; headers
set by dependencies (rate limits) are carried over, as FastAPI does for models.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic_core import to_json


def fast_json(body: Any, sub_response: Response | None = None, status_code: int = 200
              ) -> Response:
    """``body`` as an ``application/json`` response with ``sub_response``'s headers."""
    out = Response(to_json(body), status_code=status_code, media_type="application/json")
    if sub_response is not None:
        out.headers.raw.extend(sub_response.headers.raw)
    return out
