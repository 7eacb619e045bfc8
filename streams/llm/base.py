"""Provider-neutral LLM interface: requests, replies, stream events and typed errors.

A :class:`Provider` turns one :class:`LLMRequest` (system prompt, messages, optional tool
definitions) into a :class:`Completion`, either at once (:meth:`Provider.complete`) or as a
stream of :class:`TextDelta` / :class:`ToolCallDelta` events closed by one :class:`Done`
(:meth:`Provider.stream`). Every failure surfaces as an :class:`LLMError` subclass so the
chain can decide whether to retry, fall back or give up without knowing the SDKs.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Literal

Role = Literal["user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call: name, description and JSON-schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


@dataclass(frozen=True)
class ToolCall:
    """A tool call requested by the model; ``arguments`` is the decoded JSON object."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One conversation turn.

    ``assistant`` turns may carry ``tool_calls``; a ``tool`` turn answers the call
    ``tool_call_id`` with ``content``.
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True)
class LLMRequest:
    """Everything a provider needs for one call."""

    system: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    max_tokens: int = 1024
    temperature: float = 0.0
    json_output: bool = False


@dataclass(frozen=True)
class Usage:
    """Token counts reported by the provider."""

    tokens_in: int = 0
    tokens_out: int = 0


@dataclass(frozen=True)
class Completion:
    """A finished reply: text, tool calls and accounting."""

    provider: str
    model: str
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    finish_reason: str = ""


@dataclass(frozen=True)
class TextDelta:
    """A piece of streamed text."""

    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a streamed tool call; ``index`` groups the pieces of one call.

    The first piece of a call carries ``id`` and ``name``; later pieces carry more of the
    JSON ``arguments`` text.
    """

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(frozen=True)
class Done:
    """End of a stream: the assembled completion (tool calls decoded)."""

    completion: Completion


StreamEvent = TextDelta | ToolCallDelta | Done


class LLMError(Exception):
    """Base of every LLM failure; ``retryable`` says whether trying again may help."""

    retryable = False

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider


class ProviderTimeout(LLMError):
    """The provider did not answer within the timeout."""

    retryable = True


class RateLimited(LLMError):
    """HTTP 429; ``retry_after`` seconds when the provider said so."""

    retryable = True

    def __init__(self, provider: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(provider, message)
        self.retry_after = retry_after


class ProviderUnavailable(LLMError):
    """Connection failure or a 5xx answer."""

    retryable = True


class ProviderRejected(LLMError):
    """A 4xx answer other than 429 (bad key, bad request): retrying will not help."""


class MalformedResponse(LLMError):
    """The provider answered something that does not follow its own protocol."""

    retryable = True


class InvalidOutput(LLMError):
    """A well-formed reply whose content fails our output contract (schema, tool calls)."""


class CircuitOpen(LLMError):
    """The provider's circuit breaker is open; it was not called."""


class AllProvidersFailed(LLMError):
    """Every provider in the chain failed; ``errors`` holds the last error of each."""

    def __init__(self, errors: list[LLMError], attempts: list[Any] | None = None) -> None:
        detail = "; ".join(str(e) for e in errors) or "no provider configured"
        super().__init__("chain", detail)
        self.errors = errors
        self.attempts = attempts or []


class Provider(ABC):
    """One configured model endpoint."""

    name: str
    model: str

    @abstractmethod
    def complete(self, request: LLMRequest, timeout: float) -> Completion:
        """Send ``request`` and return the whole reply; raises :class:`LLMError`."""

    @abstractmethod
    def stream(self, request: LLMRequest, timeout: float) -> Iterator[StreamEvent]:
        """Send ``request`` and yield deltas, then one :class:`Done`; raises :class:`LLMError`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (default: nothing to release)."""


def decode_arguments(provider: str, name: str, text: str) -> dict[str, Any]:
    """Decode a tool call's JSON arguments text; empty text is ``{}``.

    >>> decode_arguments("p", "f", '{"a": 1}')
    {'a': 1}
    >>> decode_arguments("p", "f", "")
    {}
    """
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise MalformedResponse(provider, f"tool call {name!r} has invalid JSON args") from exc
    if not isinstance(value, dict):
        raise MalformedResponse(provider, f"tool call {name!r} args are not a JSON object")
    return value


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``retry-after`` (seconds or HTTP date).

    >>> retry_after_seconds({"retry-after": "2"})
    2.0
    >>> retry_after_seconds({"retry-after-ms": "250"})
    0.25
    >>> retry_after_seconds({}) is None
    True
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000.0)
        value = lowered.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (ValueError, TypeError):
        return None
