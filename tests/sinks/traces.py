"""Traces for the service-edge tests: one SpanBatch per service, as the OTLP receiver cuts them.

Every trace is ``frontend -> cart -> payment`` plus a ``cart`` internal span (same service:
no edge), so each trace yields exactly one ``frontend->cart`` and one ``cart->payment`` call.
"""

from __future__ import annotations

import time
from typing import Any

SERVICES = ("frontend", "cart", "payment")
EDGES_PER_TRACE = {("frontend", "cart"): 1, ("cart", "payment"): 1}


def trace_spans(trace: int, start_ns: int, error: bool = False) -> list[dict[str, Any]]:
    """The four spans of trace number ``trace``."""
    tid = f"{trace:032x}"

    def sid(k: int) -> str:
        return f"{trace:012x}{k:04x}"

    return [
        {"trace_id": tid, "span_id": sid(1), "parent": "", "service": "frontend",
         "operation": "GET /checkout", "kind": "SERVER", "start": start_ns, "error": False},
        {"trace_id": tid, "span_id": sid(2), "parent": sid(1), "service": "cart",
         "operation": "checkout", "kind": "SERVER", "start": start_ns + 1_000_000,
         "error": error},
        {"trace_id": tid, "span_id": sid(3), "parent": sid(2), "service": "cart",
         "operation": "SELECT", "kind": "CLIENT", "start": start_ns + 2_000_000, "error": False},
        {"trace_id": tid, "span_id": sid(4), "parent": sid(2), "service": "payment",
         "operation": "charge", "kind": "SERVER", "start": start_ns + 3_000_000, "error": False},
    ]


def span_batch(cluster: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
    """A SpanBatch record of ``spans``."""
    return {
        "batch_id": f"b-{spans[0]['trace_id']}-{spans[0]['span_id']}", "cluster": cluster,
        "source": "otlp", "received_ts": int(time.time() * 1000),
        "trace_ids": [s["trace_id"] for s in spans], "span_ids": [s["span_id"] for s in spans],
        "parent_span_ids": [s["parent"] for s in spans],
        "services": [s["service"] for s in spans], "operations": [s["operation"] for s in spans],
        "kinds": [s["kind"] for s in spans], "start_ns": [s["start"] for s in spans],
        "duration_ns": [500_000] * len(spans),
        "status_codes": ["ERROR" if s["error"] else "OK" for s in spans],
        "status_messages": [""] * len(spans), "attributes": [{} for _ in spans],
        "resources": [{"service.name": s["service"], "k8s.namespace.name": "shop"}
                      for s in spans],
    }


def by_service(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Spans grouped per service (one Kafka message per service, keyed cluster/service)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        out.setdefault(span["service"], []).append(span)
    return out
