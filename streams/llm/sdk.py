"""What the Anthropic and OpenAI SDK providers share: error mapping and reply checking.

Both SDKs are generated from one template, so they raise the same exception classes
(``APITimeoutError``, ``RateLimitError``, ``APIStatusError``, ``APIConnectionError``,
``APIResponseValidationError``, a base error) and read through the same ``httpx2``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any, TypeVar

import httpx2  # the SDKs' HTTP client; raised as is while a stream is read

from streams.llm.base import (
    LLMError,
    MalformedResponse,
    Provider,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    ToolCall,
    decode_arguments,
    retry_after_seconds,
)

T = TypeVar("T")


class SdkProvider(Provider):
    """A provider over a vendor SDK module (``sdk``) whose base exception is ``sdk_error``."""

    name: str
    sdk: ModuleType
    sdk_error: type[Exception]

    def _status_error(self, exc: Any) -> LLMError:
        """The typed error of an ``APIStatusError`` that is not a 429."""
        if exc.status_code >= 500:
            return ProviderUnavailable(self.name, f"HTTP {exc.status_code}")
        return ProviderRejected(self.name, f"HTTP {exc.status_code}: {exc.message}")

    def _call(self, fn: Callable[[], T]) -> T:
        """Run an SDK call, mapping its exceptions onto typed errors."""
        sdk = self.sdk
        try:
            return fn()
        except sdk.APITimeoutError as exc:
            raise ProviderTimeout(self.name, "timed out") from exc
        except sdk.RateLimitError as exc:
            raise RateLimited(self.name, "rate limited (429)",
                              retry_after_seconds(exc.response.headers)) from exc
        except sdk.APIStatusError as exc:
            raise self._status_error(exc) from exc
        except sdk.APIConnectionError as exc:
            raise ProviderUnavailable(self.name, f"connection failed: {exc}") from exc
        except (sdk.APIResponseValidationError, ValueError) as exc:
            raise MalformedResponse(self.name, f"unreadable reply: {exc}") from exc
        except self.sdk_error as exc:
            raise ProviderUnavailable(self.name, f"client error: {exc}") from exc
        except httpx2.TimeoutException as exc:
            raise ProviderTimeout(self.name, "stream went silent past the timeout") from exc
        except httpx2.HTTPError as exc:
            raise ProviderUnavailable(self.name, f"transport failed: {exc}") from exc

    def _protocol(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` over SDK objects; missing or mistyped fields are a malformed reply."""
        try:
            return fn()
        except LLMError:
            raise
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            raise MalformedResponse(self.name, f"reply breaks the protocol: {exc}") from exc

    def _read(self, stream: Iterable[T]) -> Iterator[T]:
        """The items of an SDK stream, each read under :meth:`_call`."""
        iterator = iter(stream)
        while (item := self._call(lambda: next(iterator, None))) is not None:
            yield item

    def _tool_calls(self, calls: Iterable[dict[str, str]]) -> tuple[ToolCall, ...]:
        """Streamed calls (``id``, ``name``, accumulated JSON ``args``) as tool calls."""
        return tuple(ToolCall(c["id"], c["name"], decode_arguments(self.name, c["name"],
                                                                    c["args"])) for c in calls)
