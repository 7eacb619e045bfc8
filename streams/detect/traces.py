"""RED metrics per service/operation and service dependency edges from spans.

Spans are bucketed into tumbling windows by start time.  Per window:

* RED per (namespace, service, operation) over entry spans (SERVER/CONSUMER kinds, or
  roots): ``aiops_red_requests_per_second``, ``aiops_red_error_ratio`` and
  ``aiops_red_duration_p50|p95|p99_seconds``;
* edges (caller service -> callee service) from entry spans whose parent span belongs to
  another service: ``aiops_edge_calls_per_second``, ``aiops_edge_error_ratio`` and
  ``aiops_edge_duration_p95_seconds`` with ``caller``/``callee`` (and namespace) labels.

A window closes once spans ``lateness_ms`` past its end have been seen; its figures are
published as MetricBatch records (source ``traces``) on ``aiops.metrics``, so they reach
ClickHouse through the sink and the metric detectors like any other series.

>>> red = RedAggregator(window_ms=1000, lateness_ms=0)
>>> def batch(t):
...     return {"cluster": "c1", "span_ids": ["a", "b"], "parent_span_ids": ["", "a"],
...             "services": ["front", "cart"], "operations": ["GET /", "get"],
...             "kinds": ["SERVER", "SERVER"], "start_ns": [t, t],
...             "duration_ns": [2_000_000, 1_000_000], "status_codes": ["OK", "ERROR"],
...             "resources": [{"k8s.namespace.name": "shop"}] * 2}
>>> red.add(batch(0)); red.add(batch(2_500_000_000))
>>> [b["names"][:2] for b in red.close()][0]
['aiops_red_requests_per_second', 'aiops_red_error_ratio']
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import OrderedDict
from typing import Any

import numpy as np

from schemas.batches import metric_batch
from schemas.codec import Codec
from streams.detect import anomalies
from streams.detect.entity_models import SERVICE_LIMITS, EntityModels
from streams.detect.metric_stage import BatchResult, decode_each

ENTRY_KINDS = frozenset({"SERVER", "CONSUMER"})
SERVICE_MODEL = {"warmup": 30}
NS_KEYS = ("k8s.namespace.name", "service.namespace", "namespace")


class RedAggregator:
    """Open windows of span figures, and recent span ids -> (namespace, service)."""

    def __init__(self, window_ms: int = 15_000, lateness_ms: int = 15_000,
                 span_memory: int = 200_000) -> None:
        self.window_ms = int(window_ms)
        self.lateness_ms = int(lateness_ms)
        self.span_memory = int(span_memory)
        self.spans: OrderedDict[str, tuple[str, str]] = OrderedDict()
        # (cluster, window) -> key -> [durations_s..., errors]
        self.red: dict[tuple[str, int], dict[tuple[str, str, str], list[Any]]] = {}
        self.children: dict[tuple[str, int], list[tuple[str, str, str, float, bool]]] = {}
        self.watermark_ms = 0
        # (cluster, namespace, service, window end, RED features) of closed windows
        self.service_features: list[tuple[str, str, str, int, dict[str, float]]] = []

    def add(self, rec: dict[str, Any]) -> None:
        """Fold one SpanBatch record in."""
        cluster = rec["cluster"]
        for i, span_id in enumerate(rec["span_ids"]):
            res = rec["resources"][i] if rec.get("resources") else {}
            ns = next((res[k] for k in NS_KEYS if res.get(k)), "")
            service = rec["services"][i]
            self.spans[span_id] = (ns, service)
            start_ms = rec["start_ns"][i] // 1_000_000
            self.watermark_ms = max(self.watermark_ms, start_ms)
            parent = rec["parent_span_ids"][i]
            if rec["kinds"][i] not in ENTRY_KINDS and parent:
                continue
            w = start_ms // self.window_ms
            dur = rec["duration_ns"][i] / 1e9
            err = rec["status_codes"][i] == "ERROR"
            acc = self.red.setdefault((cluster, w), {}).setdefault(
                (ns, service, rec["operations"][i]), [[], 0])
            acc[0].append(dur)
            acc[1] += err
            if parent:
                self.children.setdefault((cluster, w), []).append((parent, ns, service, dur, err))
        while len(self.spans) > self.span_memory:
            self.spans.popitem(last=False)

    def close(self, force: bool = False) -> list[dict[str, Any]]:
        """MetricBatch records of every window that is complete (all when ``force``)."""
        out = []
        for key in sorted(self.red, key=lambda k: k[1]):
            cluster, w = key
            end = (w + 1) * self.window_ms
            if not force and end + self.lateness_ms > self.watermark_ms:
                continue
            out.append(self._batch(cluster, end, self.red.pop(key),
                                   self.children.pop(key, [])))
        return out

    def _batch(self, cluster: str, end_ms: int, red: dict, children: list) -> dict[str, Any]:
        names: list[str] = []
        labels: list[dict[str, str]] = []
        values: list[float] = []
        secs = self.window_ms / 1000.0
        for (ns, service, op), (durs, errs) in sorted(red.items()):
            lb = {"namespace": ns, "service": service, "operation": op}
            q = np.quantile(np.asarray(durs), [0.5, 0.95, 0.99])
            for name, v in (("requests_per_second", len(durs) / secs),
                            ("error_ratio", errs / len(durs)), ("duration_p50_seconds", q[0]),
                            ("duration_p95_seconds", q[1]), ("duration_p99_seconds", q[2])):
                names.append(f"aiops_red_{name}")
                labels.append(lb)
                values.append(float(v))
        pooled: dict[tuple[str, str], list[Any]] = {}
        for (ns, service, _op), (durs, errs) in red.items():
            acc = pooled.setdefault((ns, service), [[], 0])
            acc[0].extend(durs)
            acc[1] += errs
        for (ns, service), (durs, errs) in sorted(pooled.items()):
            q = np.quantile(np.asarray(durs), [0.5, 0.95, 0.99])
            self.service_features.append((cluster, ns, service, end_ms, {
                "requests_per_second": len(durs) / secs, "error_ratio": errs / len(durs),
                "duration_p50_seconds": float(q[0]), "duration_p95_seconds": float(q[1]),
                "duration_p99_seconds": float(q[2])}))
        edges: dict[tuple[str, str, str, str], list[Any]] = {}
        for parent, ns, service, dur, err in children:
            caller = self.spans.get(parent)
            if caller is None or caller == (ns, service):
                continue
            e = edges.setdefault((caller[0], caller[1], ns, service), [[], 0])
            e[0].append(dur)
            e[1] += err
        for (cns, caller, ns, callee), (durs, errs) in sorted(edges.items()):
            lb = {"caller": caller, "callee": callee, "caller_namespace": cns, "namespace": ns,
                  "service": callee}
            for name, v in (("calls_per_second", len(durs) / secs),
                            ("error_ratio", errs / len(durs)),
                            ("duration_p95_seconds", float(np.quantile(durs, 0.95)))):
                names.append(f"aiops_edge_{name}")
                labels.append(lb)
                values.append(float(v))
        n = len(names)
        return metric_batch(cluster, "traces", "traces/red", end_ms, names=names, labels=labels,
                            values=values, timestamps=[end_ms] * n, types=["GAUGE"] * n,
                            batch_id=uuid.uuid4().hex)


class TraceStage:
    """The worker stage for one ``aiops.spans`` partition."""

    def __init__(self, window_ms: int = 15_000, lateness_ms: int = 15_000) -> None:
        self.codec = Codec("span_batch")
        self.red = RedAggregator(window_ms, lateness_ms)
        self.models = EntityModels(SERVICE_LIMITS, **SERVICE_MODEL)

    def process(self, payloads: list[bytes]) -> BatchResult:
        out = BatchResult()
        for rec in decode_each(self.codec, payloads, out):
            out.samples += len(rec["span_ids"])
            self.red.add(rec)
        out.metric_batches = self.red.close()
        for cluster, ns, service, end_ms, feats in self.red.service_features:
            score, fire = self.models.observe(f"{cluster}/{ns}/{service}", feats, end_ms)
            if fire:
                labels = {"namespace": ns, "service": service,
                          **{k: f"{v:.6g}" for k, v in feats.items()}}
                out.anomalies.append(anomalies.build(
                    cluster=cluster, name="service_red", labels=labels, series_id=0,
                    kind="PATTERN_BREAK", actual=score, expected=self.models.threshold,
                    lower=0.0, upper=self.models.threshold, z=score, z_on=self.models.threshold,
                    detector="hst:service", start_ts=end_ms, sample_ts=end_ms,
                    entity=("SERVICE", f"{ns}/{service}")))
        self.red.service_features = []
        return out

    def live_series(self) -> int:
        return sum(len(v) for v in self.red.red.values())

    def to_bytes(self) -> bytes:
        """Open windows, the span-id memory and the per-service models, as JSON."""
        return json.dumps({
            "window_ms": self.red.window_ms, "lateness_ms": self.red.lateness_ms,
            "watermark": self.red.watermark_ms,
            "spans": list(self.red.spans.items()),
            "red": [[c, w, [[list(k), v] for k, v in acc.items()]]
                    for (c, w), acc in self.red.red.items()],
            "children": [[c, w, v] for (c, w), v in self.red.children.items()],
            "models": base64.b64encode(self.models.to_bytes()).decode(),
        }).encode()

    @classmethod
    def from_bytes(cls, blob: bytes) -> TraceStage:
        d = json.loads(blob.decode())
        stage = cls(d["window_ms"], d["lateness_ms"])
        stage.red.watermark_ms = d["watermark"]
        stage.red.spans = OrderedDict((k, tuple(v)) for k, v in d["spans"])
        stage.red.red = {(c, w): {tuple(k): v for k, v in acc} for c, w, acc in d["red"]}
        stage.red.children = {(c, w): [tuple(x) for x in v] for c, w, v in d["children"]}
        if "models" in d:  # checkpoints before the models were kept have none
            stage.models = EntityModels.from_bytes(base64.b64decode(d["models"]),
                                                   SERVICE_LIMITS, **SERVICE_MODEL)
        return stage
