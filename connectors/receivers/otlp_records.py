"""OTLP export requests (protobuf messages) -> our Avro records on our topics.

Shared by the OTLP/HTTP receiver and the OTLP-over-Kafka consumer.

* spans -> ``SpanBatch`` per (cluster, service.name), key ``cluster/service``;
* log records -> ``LogBatch`` per (cluster, namespace, app), key ``cluster/namespace/app``;
* metric points -> ``MetricBatch`` per (cluster, resource), key ``cluster/target``
  (gauge, sum, histogram as Prometheus ``_bucket``/``_sum``/``_count`` with ``le``,
  exponential histogram folded into ``le`` buckets, summary with ``quantile``).

The cluster is the resource attribute ``k8s.cluster.name`` (or ``cluster``), else the
receiver's configured default. Batches are split at ``max_batch`` rows.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from connectors.receivers.base import Outgoing
from connectors.receivers.otlp_metrics import metric_rows
from connectors.receivers.otlp_values import any_value_text, attributes_text
from schemas.batches import metric_batch
from schemas.codec import Codec

SPANS_TOPIC = "aiops.spans"
LOGS_TOPIC = "aiops.logs"
METRICS_TOPIC = "aiops.metrics"
CLUSTER_ATTRS = ("k8s.cluster.name", "cluster")
SPAN_KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
SPAN_STATUS = ("UNSET", "OK", "ERROR")
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_LEVEL_WORDS = {"information": "INFO", "informational": "INFO", "warning": "WARN",
                "err": "ERROR", "critical": "FATAL", "crit": "FATAL", "panic": "FATAL",
                "emergency": "FATAL", "alert": "FATAL", "notice": "INFO"}


def cluster_of(resource: dict[str, str], default_cluster: str) -> str:
    """The cluster a resource belongs to."""
    for attr in CLUSTER_ATTRS:
        if resource.get(attr):
            return resource[attr]
    return default_cluster


def _chunks(n: int, size: int) -> Iterable[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


# -- spans ---------------------------------------------------------------------
def span_records(
    req: ExportTraceServiceRequest, *, default_cluster: str, source: str, now_ms: int,
    max_batch: int = 5000,
) -> list[Outgoing]:
    """SpanBatch records keyed ``cluster/service``."""
    groups: dict[tuple[str, str], dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for rs in req.resource_spans:
        resource = attributes_text(rs.resource.attributes)
        cluster = cluster_of(resource, default_cluster)
        service = resource.get("service.name", "unknown_service")
        cols = groups[(cluster, service)]
        for ss in rs.scope_spans:
            for span in ss.spans:
                cols["trace_ids"].append(span.trace_id.hex())
                cols["span_ids"].append(span.span_id.hex())
                cols["parent_span_ids"].append(span.parent_span_id.hex())
                cols["services"].append(service)
                cols["operations"].append(span.name)
                cols["kinds"].append(SPAN_KINDS[span.kind] if 0 <= span.kind < 6
                                     else "UNSPECIFIED")
                cols["start_ns"].append(span.start_time_unix_nano)
                cols["duration_ns"].append(
                    max(span.end_time_unix_nano - span.start_time_unix_nano, 0))
                code = span.status.code
                cols["status_codes"].append(SPAN_STATUS[code] if 0 <= code < 3 else "UNSET")
                cols["status_messages"].append(span.status.message)
                cols["attributes"].append(attributes_text(span.attributes))
                cols["resources"].append(resource)
    codec = Codec("span_batch")
    out: list[Outgoing] = []
    for (cluster, service), cols in groups.items():
        n = len(cols["trace_ids"])
        for part in _chunks(n, max_batch):
            rec = {"batch_id": uuid.uuid4().hex, "cluster": cluster, "source": source,
                   "received_ts": now_ms, **{k: v[part] for k, v in cols.items()}}
            out.append(Outgoing(SPANS_TOPIC, f"{cluster}/{service}".encode(),
                                codec.encode(rec), part.stop - part.start))
    return out


# -- logs ----------------------------------------------------------------------
def level_of(severity_number: int, severity_text: str) -> str:
    """OTel severity -> TRACE/DEBUG/INFO/WARN/ERROR/FATAL/UNKNOWN."""
    if 1 <= severity_number <= 24:
        return LEVELS[(severity_number - 1) // 4]
    return level_word(severity_text)


def level_word(text: str) -> str:
    """A free-form level name (Loki ``level`` label, syslog words) -> our level."""
    word = text.strip().lower()
    if not word:
        return "UNKNOWN"
    upper = word.upper()
    if upper in LEVELS:
        return upper
    return _LEVEL_WORDS.get(word, "UNKNOWN")


def stream_labels(resource: dict[str, str]) -> dict[str, str]:
    """Loki-style stream labels from OTel resource attributes (plus the originals)."""
    labels = dict(resource)
    for ours, theirs in (("namespace", "k8s.namespace.name"), ("pod", "k8s.pod.name"),
                         ("container", "k8s.container.name")):
        if resource.get(theirs):
            labels[ours] = resource[theirs]
    app = (resource.get("app") or resource.get("k8s.deployment.name")
           or resource.get("service.name"))
    if app:
        labels["app"] = app
    return labels


def log_key(cluster: str, labels: dict[str, str]) -> str:
    """``cluster/namespace/app`` for a log stream."""
    return f"{cluster}/{labels.get('namespace', '')}/{labels.get('app', '')}"


def log_records(
    req: ExportLogsServiceRequest, *, default_cluster: str, source: str, now_ms: int,
    max_batch: int = 5000,
) -> list[Outgoing]:
    """LogBatch records keyed ``cluster/namespace/app``."""
    groups: dict[tuple[str, str], dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    now_ns = now_ms * 1_000_000
    for rl in req.resource_logs:
        resource = attributes_text(rl.resource.attributes)
        cluster = cluster_of(resource, default_cluster)
        labels = stream_labels(resource)
        cols = groups[(cluster, log_key(cluster, labels))]
        for sl in rl.scope_logs:
            for lr in sl.log_records:
                cols["timestamps_ns"].append(
                    lr.time_unix_nano or lr.observed_time_unix_nano or now_ns)
                cols["labels"].append(labels)
                cols["levels"].append(level_of(lr.severity_number, lr.severity_text))
                cols["bodies"].append(any_value_text(lr.body))
                cols["trace_ids"].append(lr.trace_id.hex())
                cols["span_ids"].append(lr.span_id.hex())
                cols["metadata"].append(attributes_text(lr.attributes))
    return log_outgoing(groups, source=source, now_ms=now_ms, max_batch=max_batch)


def log_outgoing(
    groups: dict[tuple[str, str], dict[str, list[Any]]], *, source: str, now_ms: int,
    max_batch: int,
) -> list[Outgoing]:
    """Encode grouped log columns ((cluster, key) -> columns) as LogBatch records."""
    codec = Codec("log_batch")
    out: list[Outgoing] = []
    for (cluster, key), cols in groups.items():
        for part in _chunks(len(cols["bodies"]), max_batch):
            rec = {"batch_id": uuid.uuid4().hex, "cluster": cluster, "source": source,
                   "received_ts": now_ms, **{k: v[part] for k, v in cols.items()}}
            out.append(Outgoing(LOGS_TOPIC, key.encode(), codec.encode(rec),
                                part.stop - part.start))
    return out


# -- metrics -------------------------------------------------------------------
def metric_target(resource: dict[str, str]) -> tuple[str, str]:
    """(job, instance) as Prometheus' OTLP translation derives them."""
    service = resource.get("service.name", "unknown_service")
    namespace = resource.get("service.namespace")
    job = f"{namespace}/{service}" if namespace else service
    return job, resource.get("service.instance.id", "")


def metric_records(
    req: ExportMetricsServiceRequest, *, default_cluster: str, source: str, now_ms: int,
    max_batch: int = 20000,
) -> list[Outgoing]:
    """MetricBatch records keyed ``cluster/target`` (one target per resource)."""
    codec = Codec("metric_batch")
    out: list[Outgoing] = []
    for rm in req.resource_metrics:
        resource = attributes_text(rm.resource.attributes)
        cluster = cluster_of(resource, default_cluster)
        job, instance = metric_target(resource)
        base = {"job": job, **({"instance": instance} if instance else {})}
        target = f"{job}/{instance}" if instance else job
        rows = [row for sm in rm.scope_metrics for m in sm.metrics
                for row in metric_rows(m, base)]
        for part in _chunks(len(rows), max_batch):
            chunk = rows[part]
            batch = metric_batch(
                cluster, source, target, now_ms,
                names=[r.name for r in chunk], labels=[r.labels for r in chunk],
                values=[r.value for r in chunk], timestamps=[r.ts_ms for r in chunk],
                types=[r.type for r in chunk])
            out.append(Outgoing(METRICS_TOPIC, f"{cluster}/{target}".encode(),
                                codec.encode(batch), len(chunk)))
    return out


def span_count(req: ExportTraceServiceRequest) -> int:
    """Spans in a request."""
    return sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)


def log_count(req: ExportLogsServiceRequest) -> int:
    """Log records in a request."""
    return sum(len(sl.log_records) for rl in req.resource_logs for sl in rl.scope_logs)


def point_count(req: ExportMetricsServiceRequest) -> int:
    """Data points in a request (a histogram point counts once)."""
    total = 0
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                if kind is not None:
                    total += len(getattr(m, kind).data_points)
    return total
