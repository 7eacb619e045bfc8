"""The API's Prometheus metrics (one registry per app) and the request middleware."""

from __future__ import annotations

import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streams.logs_setup import get_logger

log = get_logger(__name__)


class ApiTelemetry:
    """Counters and histograms of ``aiops api``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("aiops_api_requests_total", "HTTP requests",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram(
            "aiops_api_request_duration_seconds", "Request latency", ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry)
        self.rate_limited = Counter("aiops_api_rate_limited_total", "429 answers", ["bucket"],
                                    registry=self.registry)
        self.auth_failures = Counter("aiops_api_auth_failures_total", "401/403 answers",
                                     ["reason"], registry=self.registry)
        self.stream_clients = Gauge("aiops_api_stream_clients", "Connected live-stream clients",
                                    ["transport"], registry=self.registry)
        self.stream_dropped = Counter("aiops_api_stream_dropped_events_total",
                                      "Events dropped from full client queues",
                                      registry=self.registry)
        self.stream_sent = Counter("aiops_api_stream_events_total", "Events sent to clients",
                                   ["transport"], registry=self.registry)
        self.stream_relay_lag = Histogram(
            "aiops_api_stream_relay_lag_seconds",
            "Kafka record timestamp to the relay receiving it (before fan-out)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry)
        self.stream_replayed = Counter("aiops_api_stream_replayed_events_total",
                                       "Events replayed to resuming clients", ["transport"],
                                       registry=self.registry)


class RequestMiddleware:
    """Request id, latency/count metrics, and the insecure-dev warning on every request.

    Plain ASGI (no ``BaseHTTPMiddleware``): streamed answers pass through untouched.
    """

    def __init__(self, app: ASGIApp, telemetry: ApiTelemetry, insecure_dev: bool) -> None:
        self.app = app
        self.telemetry = telemetry
        self.insecure_dev = insecure_dev

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = Headers(scope=scope).get("x-request-id", "")
        if not rid or len(rid) > 64 or not rid.isascii() or not rid.isprintable():
            rid = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        if self.insecure_dev:
            log.warning("api_insecure_dev_request", path=scope.get("path"),
                        detail="authentication is DISABLED (--insecure-dev)")
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = rid
                route = scope.get("route")
                template = getattr(route, "path", "unmatched")
                self.telemetry.latency.labels(template).observe(time.perf_counter() - start)
                self.telemetry.requests.labels(template, scope["method"], str(status)).inc()
            await send(message)

        await self.app(scope, receive, send_with_id)
