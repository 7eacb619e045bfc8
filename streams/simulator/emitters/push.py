"""Push mode: the fleet pushes like real agents do, over HTTP to configured URLs.

* spans: OTLP/HTTP protobuf ``ExportTraceServiceRequest`` POSTed to ``<otlp_url>/v1/traces``;
* logs: Loki push API JSON POSTed to ``<loki_url>/loki/api/v1/push`` (level as structured
  metadata);
* alerts: Alertmanager webhook v4 JSON POSTed to ``alertmanager_url`` when a fault's alert fires
  or resolves.

Every pushed body carries the cluster (OTel resource ``k8s.cluster.name``, Loki label
``cluster``, alert label ``cluster``). A dark cluster pushes nothing. A refused push is counted
and logged, never retried forever.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from streams.logs_setup import get_logger
from streams.simulator.alerts import AlertTracker, webhook_payload
from streams.simulator.emitters.base import Emitter
from streams.simulator.engine import ClusterSim, TickOutput

log = get_logger(__name__)
KINDS = {"UNSPECIFIED": 0, "INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}


def _kv(attrs: dict[str, str]) -> list[KeyValue]:
    return [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in attrs.items()]


def otlp_traces(spans: list[dict]) -> bytes:
    """Serialised ExportTraceServiceRequest, one ResourceSpans per distinct resource."""
    groups: dict[tuple, list[dict]] = {}
    for s in spans:
        groups.setdefault(tuple(sorted(s["resource"].items())), []).append(s)
    req = ExportTraceServiceRequest()
    for res, rows in groups.items():
        scope = ScopeSpans(scope=InstrumentationScope(name="aiops-simulator", version="1"))
        for s in rows:
            scope.spans.append(Span(
                trace_id=bytes.fromhex(s["trace_id"]), span_id=bytes.fromhex(s["span_id"]),
                parent_span_id=bytes.fromhex(s["parent_span_id"]) if s["parent_span_id"]
                else b"", name=s["operation"], kind=KINDS[s["kind"]],
                start_time_unix_nano=s["start_ns"],
                end_time_unix_nano=s["start_ns"] + s["duration_ns"],
                attributes=_kv(s["attributes"]),
                status=Status(code=STATUS[s["status_code"]], message=s["status_message"])))
        req.resource_spans.append(ResourceSpans(resource=Resource(attributes=_kv(dict(res))),
                                                scope_spans=[scope]))
    return req.SerializeToString()


def loki_push(cluster: str, logs: list[dict]) -> dict:
    """Loki push API body: one stream per label set, values [ts_ns, line, metadata]."""
    streams: dict[tuple, list[list]] = {}
    for r in logs:
        labels = {**{k: v for k, v in r["labels"].items() if v}, "cluster": cluster}
        streams.setdefault(tuple(sorted(labels.items())), []).append(
            [str(r["ts_ns"]), r["body"], {"level": r["level"]}])
    return {"streams": [{"stream": dict(k), "values": v} for k, v in streams.items()]}


class PushEmitter(Emitter):
    """POSTs each tick's spans, logs and alert transitions to the configured receivers."""

    def __init__(self, otlp_url: str | None = None, loki_url: str | None = None,
                 alertmanager_url: str | None = None, timeout: float = 10.0,
                 client: httpx.Client | None = None) -> None:
        self.otlp_url = otlp_url.rstrip("/") + "/v1/traces" if otlp_url else None
        self.loki_url = loki_url.rstrip("/") + "/loki/api/v1/push" if loki_url else None
        self.alertmanager_url = alertmanager_url
        self.timeout = timeout
        self.client = client
        self.trackers: dict[str, AlertTracker] = {}
        self.counts = {"otlp_posts": 0, "loki_posts": 0, "webhook_posts": 0, "push_failures": 0}

    def setup(self) -> None:
        if self.client is None:
            self.client = httpx.Client(timeout=self.timeout)

    def _post(self, kind: str, url: str, **kwargs: Any) -> None:
        if self.client is None:
            raise RuntimeError("call setup() before pushing")
        try:
            resp = self.client.post(url, **kwargs)
            if resp.status_code >= 300:
                raise httpx.HTTPStatusError(f"HTTP {resp.status_code}: {resp.text[:200]}",
                                            request=resp.request, response=resp)
            self.counts[f"{kind}_posts"] += 1
        except httpx.HTTPError as exc:
            self.counts["push_failures"] += 1
            log.warning("push failed", kind=kind, url=url, error=str(exc))

    def add(self, sim: ClusterSim, out: TickOutput, k: int) -> None:
        if out.dark:
            return
        name = sim.cluster.name
        if self.otlp_url and out.spans:
            self._post("otlp", self.otlp_url, content=otlp_traces(out.spans),
                       headers={"Content-Type": "application/x-protobuf"})
        if self.loki_url and out.logs:
            self._post("loki", self.loki_url, content=json.dumps(loki_push(name, out.logs)),
                       headers={"Content-Type": "application/json"})
        if self.alertmanager_url:
            tracker = self.trackers.setdefault(name, AlertTracker())
            alerts = tracker.transitions(sim.faults, out.ts)
            if alerts:
                self._post("webhook", self.alertmanager_url, json=webhook_payload(alerts))

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def stats(self) -> dict[str, float]:
        return dict(self.counts)
