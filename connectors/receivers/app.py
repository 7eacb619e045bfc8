"""One HTTP app serving every receiver, plus ``/metrics``, ``/health`` and ``/ready``.

Routes: ``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics`` (OTLP/HTTP),
``POST /loki/api/v1/push`` (Loki push), ``POST /alertmanager/webhook`` (Alertmanager
webhook v4). Decoding and delivery run in the thread pool; the event loop only reads
bodies. Background sources (Loki pull, OTLP-on-Kafka) given to :func:`build_app` are
started and stopped with the app.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from connectors.receivers.alertmanager import AlertmanagerReceiver
from connectors.receivers.base import (
    BackpressureError,
    Delivery,
    PayloadError,
    Publisher,
    ReceiverMetrics,
)
from connectors.receivers.body import decompress, read_body
from connectors.receivers.loki import LokiPushReceiver
from connectors.receivers.otlp import JSON, OtlpReceiver, media_type, status_body
from streams.logs_setup import get_logger
from streams.settings import Settings

log = get_logger(__name__)


class Source(Protocol):
    """A background receiver (pull or consume loop)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class ReceiverConfig:
    """The receivers' knobs (from :class:`streams.settings.Settings`)."""

    default_cluster: str = "default"
    max_body_bytes: int = 8 * 1024 * 1024
    max_decoded_bytes: int = 64 * 1024 * 1024
    publish_timeout_s: float = 10.0
    max_inflight: int = 16
    retry_after_s: int = 2

    @classmethod
    def from_settings(cls, s: Settings) -> ReceiverConfig:
        return cls(s.receiver_default_cluster, s.receiver_max_body_bytes,
                   s.receiver_max_decoded_bytes, s.receiver_publish_timeout_s,
                   s.receiver_max_inflight, s.receiver_retry_after_s)


def build_app(
    publisher: Publisher,
    config: ReceiverConfig | None = None,
    *,
    metrics: ReceiverMetrics | None = None,
    sources: Sequence[Source] = (),
) -> FastAPI:
    """The receivers' ASGI app publishing through ``publisher``."""
    cfg = config or ReceiverConfig()
    metrics = metrics or ReceiverMetrics()
    delivery = Delivery(publisher, metrics, timeout_s=cfg.publish_timeout_s,
                        max_inflight=cfg.max_inflight, retry_after_s=cfg.retry_after_s)
    otlp = OtlpReceiver(delivery, default_cluster=cfg.default_cluster)
    loki = LokiPushReceiver(delivery, default_cluster=cfg.default_cluster,
                            max_decoded_bytes=cfg.max_decoded_bytes)
    alerts = AlertmanagerReceiver(delivery, default_cluster=cfg.default_cluster)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for src in sources:
            src.start()
        try:
            yield
        finally:
            for src in reversed(sources):
                src.stop()

    app = FastAPI(title="AIOps NextGen receivers", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.state.metrics = metrics
    app.state.delivery = delivery

    def answer(source: str, response: Response) -> Response:
        metrics.requests.labels(source, str(response.status_code)).inc()
        return response

    def refused(source: str, exc: Exception, body: bytes, media: str) -> Response:
        if isinstance(exc, BackpressureError):
            log.warning("request refused under backpressure", source=source, reason=exc.reason)
            return answer(source, Response(body, exc.status, media_type=media,
                                           headers={"Retry-After": str(exc.retry_after_s)}))
        assert isinstance(exc, PayloadError)
        log.info("malformed request", source=source, reason=exc.reason, status=exc.status)
        return answer(source, Response(body, exc.status, media_type=media))

    async def load(request: Request, source: str, *, inflate: bool = True) -> bytes:
        try:
            raw = await read_body(request, cfg.max_body_bytes)
            if not inflate:
                return raw
            return decompress(raw, request.headers.get("content-encoding"),
                              cfg.max_decoded_bytes)
        except PayloadError as exc:
            metrics.errors.labels(source, exc.kind).inc()
            raise

    async def otlp_route(request: Request, signal: str) -> Response:
        ctype = media_type(request.headers.get("content-type"))
        reply_type = ctype if ctype in ("application/x-protobuf", JSON) else JSON
        try:
            body = await load(request, otlp.source)
            out = await run_in_threadpool(otlp.export, signal, body, ctype)
        except PayloadError as exc:
            return refused(otlp.source, exc, status_body(3, exc.reason, reply_type), reply_type)
        except BackpressureError as exc:
            return refused(otlp.source, exc, status_body(14, exc.reason, reply_type),
                           reply_type)
        return answer(otlp.source, Response(out, 200, media_type=reply_type))

    @app.post("/v1/traces")
    async def traces(request: Request) -> Response:
        return await otlp_route(request, "traces")

    @app.post("/v1/logs")
    async def logs(request: Request) -> Response:
        return await otlp_route(request, "logs")

    @app.post("/v1/metrics")
    async def otlp_metrics(request: Request) -> Response:
        return await otlp_route(request, "metrics")

    @app.post("/loki/api/v1/push")
    async def loki_push(request: Request) -> Response:
        ctype = media_type(request.headers.get("content-type"))
        try:
            raw = await load(request, loki.source, inflate=False)
            await run_in_threadpool(loki.push, raw, ctype,
                                    request.headers.get("content-encoding"))
        except (PayloadError, BackpressureError) as exc:
            return refused(loki.source, exc, f"{exc}\n".encode(), "text/plain")
        return answer(loki.source, Response(status_code=204))

    @app.post("/alertmanager/webhook")
    async def alertmanager(request: Request) -> Response:
        ctype = media_type(request.headers.get("content-type"))
        try:
            body = await load(request, alerts.source)
            count = await run_in_threadpool(alerts.notify, body, ctype)
        except (PayloadError, BackpressureError) as exc:
            return refused(alerts.source, exc, f"{exc}\n".encode(), "text/plain")
        return answer(alerts.source, Response(f'{{"alerts": {count}}}', 200,
                                              media_type="application/json"))

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> Response:
        if delivery.ready:
            return Response('{"status": "ready"}', 200, media_type="application/json")
        return Response('{"status": "kafka unreachable"}', 503, media_type="application/json",
                        headers={"Retry-After": str(cfg.retry_after_s)})

    return app
