"""OpenTelemetry spans that follow the call graph.

Each sampled request becomes a trace: a SERVER span in the entry service, and for every call a
CLIENT span in the caller with a SERVER span in the callee. A span lasts its service's own time
plus its calls, so a slow callee (or a delayed network edge) makes its callers slow; an error in
a callee (or a lost packet on the edge) makes the caller's span fail too.
"""

from __future__ import annotations

import numpy as np

from streams.simulator.topology import LLM_NS, SHOP_NS, Cluster
from streams.simulator.workload import ServiceFrame, ServiceKnobs

FRONTEND_OPS = ("GET /", "GET /product/{id}", "POST /cart", "POST /cart/checkout", "GET /cart")
RPC = {"cartservice": "hipstershop.CartService/GetCart",
       "productcatalogservice": "hipstershop.ProductCatalogService/GetProduct",
       "currencyservice": "hipstershop.CurrencyService/Convert",
       "recommendationservice": "hipstershop.RecommendationService/ListRecommendations",
       "adservice": "hipstershop.AdService/GetAds",
       "shippingservice": "hipstershop.ShippingService/GetQuote",
       "checkoutservice": "hipstershop.CheckoutService/PlaceOrder",
       "paymentservice": "hipstershop.PaymentService/Charge",
       "emailservice": "hipstershop.EmailService/SendOrderConfirmation",
       "redis-cart": "HGET"}
SIGMA = 0.35


class TraceGen:
    """Samples ``per_tick`` web-shop traces (and one vLLM request) per tick."""

    def __init__(self, cluster: Cluster, rng: np.random.Generator, per_tick: int) -> None:
        self.cluster = cluster
        self.rng = rng
        self.per_tick = per_tick
        self.idx = {s.name: i for i, s in enumerate(cluster.services)}
        self.pods = {s.name: [p for p in cluster.pods if p.service == s.name]
                     for s in cluster.services}
        self.edge_k = {}
        k = 0
        for s in cluster.services:
            for callee, _ in s.deps:
                self.edge_k[(s.name, callee)] = k
                k += 1

    def _resource(self, service: str) -> dict[str, str]:
        pods = self.pods[service]
        pod = pods[int(self.rng.integers(len(pods)))] if pods else None
        svc = self.cluster.services[self.idx[service]]
        res = {"service.name": service, "k8s.namespace.name": svc.namespace,
               "k8s.cluster.name": self.cluster.name}
        if pod is not None:
            res.update({"k8s.pod.name": pod.name, "k8s.node.name": pod.node})
        return res

    def _id(self, nbytes: int) -> str:
        return self.rng.bytes(nbytes).hex()

    def _server(self, out: list[dict], trace: str, parent: str, service: str, op: str,
                start_ns: int, ctx: tuple) -> tuple[int, bool]:
        frame, own_err, knobs = ctx
        i = self.idx[service]
        span_id = self._id(8)
        own = frame.own_latency_s[i] * float(np.exp(SIGMA * self.rng.standard_normal()))
        t = start_ns + int(own * 0.5e9)
        failed = False
        for callee, calls in self.cluster.services[i].deps:
            n = int(calls) + (self.rng.random() < calls - int(calls))
            k = self.edge_k[(service, callee)]
            for _ in range(n):
                client_id = self._id(8)
                delay = int(knobs.edge_delay_ms[k] * 1e6 * (0.8 + 0.4 * self.rng.random()))
                dur, child_failed = self._server(out, trace, client_id, callee, RPC[callee],
                                                 t + delay // 2, ctx)
                lost = self.rng.random() < knobs.edge_loss[k]
                c_failed = child_failed or lost
                msg = ("upstream connect error or disconnect/reset before headers" if lost
                       else "rpc error: code = Unavailable" if child_failed else "")
                out.append(self._span(trace, client_id, span_id, service, RPC[callee], "CLIENT",
                                      t, dur + delay, c_failed, msg,
                                      {"rpc.system": "grpc", "net.peer.name": callee}))
                t += dur + delay
                failed = failed or (c_failed and self.rng.random() < 0.9)
        t += int(own * 0.5e9)
        own_fail = self.rng.random() < own_err[i]
        failed = failed or own_fail
        attrs = ({"http.method": op.split()[0], "http.route": op.split()[1],
                  "http.status_code": "500" if failed else "200"} if " " in op
                 else {"rpc.system": "grpc", "rpc.method": op.rsplit("/", 1)[-1]})
        out.append(self._span(trace, span_id, parent, service, op, "SERVER", start_ns,
                              t - start_ns, failed, "internal error" if own_fail else "", attrs))
        return t - start_ns, failed

    def _span(self, trace: str, span: str, parent: str, service: str, op: str, kind: str,
              start: int, dur: int, failed: bool, msg: str, attrs: dict[str, str]) -> dict:
        return {"trace_id": trace, "span_id": span, "parent_span_id": parent,
                "service": service, "operation": op, "kind": kind, "start_ns": int(start),
                "duration_ns": max(int(dur), 1000), "status_code": "ERROR" if failed else "UNSET",
                "status_message": msg if failed else "", "attributes": attrs,
                "resource": self._resource(service)}

    def generate(self, ts: int, frame: ServiceFrame, own_err: np.ndarray,
                 knobs: ServiceKnobs) -> list[dict]:
        """Spans of this tick's sampled requests, started within the tick."""
        out: list[dict] = []
        ctx = (frame, own_err, knobs)
        base_ns = ts * 1_000_000
        if any(s.namespace == SHOP_NS for s in self.cluster.services):
            for _ in range(self.per_tick):
                op = FRONTEND_OPS[int(self.rng.integers(len(FRONTEND_OPS)))]
                start = base_ns - int(self.rng.integers(1, 10_000)) * 1_000_000
                self._server(out, self._id(16), "", "frontend", op, start, ctx)
        if any(s.namespace == LLM_NS for s in self.cluster.services):
            start = base_ns - int(self.rng.integers(1, 10_000)) * 1_000_000
            self._server(out, self._id(16), "", "vllm", "POST /v1/chat/completions", start, ctx)
        return out
