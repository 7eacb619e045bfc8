"""RED metrics per service/operation and service dependency edges from spans.

Spans are bucketed into tumbling windows by start time.  Per window:

* RED per (namespace, service, operation) over entry spans (SERVER/CONSUMER kinds, or
  roots): ``aiops_red_requests_per_second``, ``aiops_red_error_ratio`` and
  ``aiops_red_duration_p50|p95|p99_seconds``;
* edges (caller service -> callee service) from entry spans whose parent span belongs to
  another service: ``aiops_edge_calls_per_second``, ``aiops_edge_error_ratio`` and
  ``aiops_edge_duration_p95_seconds`` with ``caller``/``callee`` (and namespace) labels.
  The call is measured as its caller sees it (network delay and lost calls show in the
  caller's span, not in the callee's): a CLIENT/PRODUCER span that names its peer service
  (:mod:`streams.detect.span_peer`) is an edge by itself, on the caller's partition (spans
  are keyed by ``cluster/service``, so the callee's spans are usually elsewhere); else an
  entry span whose parent span is known here is one, with the parent's duration and status
  when the parent is the caller's CLIENT/PRODUCER span (a call fails if either span does).

The error ratios are count-aware: the Wilson score lower bound (:func:`error_ratio`) of
errors / requests, the ratio the window's spans show with 97.5 % confidence.  A window of a
few spans says little: one error in 5 requests gives 0.036 (not 0.2), one in 1 gives 0.21,
while 12 in 40 give 0.18; with many requests the bound tends to the plain ratio.  A
normally clean service's ratio then moves only as far as the evidence carries it (the
metric stage also gives ``*_ratio`` series a scale floor, see
:data:`streams.detect.metric_stage.RATIO_RANGE`).

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
import math
import uuid
from collections import OrderedDict
from typing import Any

import numpy as np

from schemas.batches import metric_batch
from schemas.codec import Codec
from streams.detect import anomalies
from streams.detect.entity_models import SERVICE_LIMITS, SERVICE_SCALES, EntityModels
from streams.detect.metric_stage import BatchResult, decode_each
from streams.detect.span_peer import peer_of

ENTRY_KINDS = frozenset({"SERVER", "CONSUMER"})
CALL_KINDS = frozenset({"CLIENT", "PRODUCER"})  # the caller's side of a call
SERVICE_MODEL = {"warmup": 30, "scales": SERVICE_SCALES}
NS_KEYS = ("k8s.namespace.name", "service.namespace", "namespace")


#: Normal quantile of the error-ratio bound (one-sided 97.5 %).
ERROR_BOUND_Z = 1.96


def error_ratio(errors: int, requests: int, z: float = ERROR_BOUND_Z) -> float:
    """Wilson score lower bound of ``errors / requests`` (0 with no errors or requests).

    >>> round(error_ratio(1, 5), 3), round(error_ratio(12, 40), 3), error_ratio(0, 9)
    (0.036, 0.181, 0.0)
    """
    if errors <= 0 or requests <= 0:
        return 0.0
    n, p, z2 = float(requests), errors / requests, z * z
    centre = p + z2 / (2.0 * n)
    margin = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    return max(0.0, (centre - margin) / (1.0 + z2 / n))


class RedAggregator:
    """Open windows of span figures, and recent span ids -> (namespace, service)."""

    def __init__(self, window_ms: int = 15_000, lateness_ms: int = 15_000,
                 span_memory: int = 200_000) -> None:
        self.window_ms = int(window_ms)
        self.lateness_ms = int(lateness_ms)
        self.span_memory = int(span_memory)
        # span id -> (namespace, service); a caller's span without a peer name adds its
        # (duration s, error), one with a peer name (counted as a call already) (None, None)
        self.spans: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        # (cluster, window) -> key -> [durations_s..., errors]
        self.red: dict[tuple[str, int], dict[tuple[str, str, str], list[Any]]] = {}
        self.children: dict[tuple[str, int], list[tuple[str, str, str, float, bool]]] = {}
        # (cluster, window) -> calls seen by their caller: (caller ns, caller, ns, callee,
        # duration s, error)
        self.calls: dict[tuple[str, int], list[tuple[str, str, str, str, float, bool]]] = {}
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
            kind = rec["kinds"][i]
            dur = rec["duration_ns"][i] / 1e9
            err = rec["status_codes"][i] == "ERROR"
            start_ms = rec["start_ns"][i] // 1_000_000
            self.watermark_ms = max(self.watermark_ms, start_ms)
            w = start_ms // self.window_ms
            if kind in CALL_KINDS:
                attrs = rec["attributes"][i] if rec.get("attributes") else None
                peer = peer_of(attrs, ns)
                if peer is not None and peer != (ns, service):
                    self.calls.setdefault((cluster, w), []).append(
                        (ns, service, peer[0], peer[1], dur, err))
                    self.spans[span_id] = (ns, service, None, None)
                else:
                    self.spans[span_id] = (ns, service, dur, err)
            else:
                self.spans[span_id] = (ns, service)
            parent = rec["parent_span_ids"][i]
            if kind not in ENTRY_KINDS and parent:
                continue
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
        for key in sorted(self.red.keys() | self.calls.keys(), key=lambda k: (k[1], k[0])):
            cluster, w = key
            end = (w + 1) * self.window_ms
            if not force and end + self.lateness_ms > self.watermark_ms:
                continue
            out.append(self._batch(cluster, end, self.red.pop(key, {}),
                                   self.children.pop(key, []), self.calls.pop(key, [])))
        return out

    def _batch(self, cluster: str, end_ms: int, red: dict, children: list,
               calls: list) -> dict[str, Any]:
        names: list[str] = []
        labels: list[dict[str, str]] = []
        values: list[float] = []
        secs = self.window_ms / 1000.0
        for (ns, service, op), (durs, errs) in sorted(red.items()):
            lb = {"namespace": ns, "service": service, "operation": op}
            q = np.quantile(np.asarray(durs), [0.5, 0.95, 0.99])
            for name, v in (("requests_per_second", len(durs) / secs),
                            ("error_ratio", error_ratio(errs, len(durs))),
                            ("duration_p50_seconds", q[0]),
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
                "requests_per_second": len(durs) / secs,
                "error_ratio": error_ratio(errs, len(durs)),
                "duration_p50_seconds": float(q[0]), "duration_p95_seconds": float(q[1]),
                "duration_p99_seconds": float(q[2])}))
        edges: dict[tuple[str, str, str, str], list[Any]] = {}
        for cns, caller_svc, ns, callee, dur, err in calls:
            e = edges.setdefault((cns, caller_svc, ns, callee), [[], 0])
            e[0].append(dur)
            e[1] += err
        for parent, ns, service, dur, err in children:
            caller = self.spans.get(parent)
            if caller is None or caller[:2] == (ns, service):
                continue
            if len(caller) == 4:  # the caller's CLIENT/PRODUCER span: the call as it saw it
                if caller[2] is None:
                    continue  # counted from the caller's side (it names its peer)
                dur, err = caller[2], err or caller[3]
            e = edges.setdefault((caller[0], caller[1], ns, service), [[], 0])
            e[0].append(dur)
            e[1] += err
        for (cns, caller, ns, callee), (durs, errs) in sorted(edges.items()):
            lb = {"caller": caller, "callee": callee, "caller_namespace": cns, "namespace": ns,
                  "service": callee}
            for name, v in (("calls_per_second", len(durs) / secs),
                            ("error_ratio", error_ratio(errs, len(durs))),
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
            "calls": [[c, w, v] for (c, w), v in self.red.calls.items()],
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
        stage.red.calls = {(c, w): [tuple(x) for x in v] for c, w, v in d.get("calls", [])}
        if "models" in d:  # checkpoints before the models were kept have none
            stage.models = EntityModels.from_bytes(base64.b64decode(d["models"]),
                                                   SERVICE_LIMITS, **SERVICE_MODEL)
        return stage
