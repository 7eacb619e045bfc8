"""Log lines with realistic templates and variables per service, and error bursts.

Every service logs INFO lines in proportion to its traffic and ERROR lines in proportion to its
error ratio (so a fault that raises errors raises an error burst). Fault events add their own
lines: kernel OOM kills, NVIDIA XID messages, ptp4l faults, the DU losing sync, a rollout.
"""

from __future__ import annotations

import numpy as np

from streams.simulator.cnf import FREERUN, HOLDOVER
from streams.simulator.topology import Cluster
from streams.simulator.workload import ServiceFrame

WORDS = ("clothing", "kitchen", "footwear", "hair", "decor", "accessories", "vintage", "cycling")
PRODUCTS = ("OLJCESPC7Z", "66VCHSJNUP", "1YMWWN1N4O", "L9ECAV7KIM", "2ZYFJ3GM2N", "0PUK6V6EV0")
CURRENCIES = ("USD", "EUR", "JPY", "GBP", "CAD")
INFO: dict[str, tuple[str, ...]] = {
    "frontend": ('request complete http.req.method=GET http.req.path=/product/{product} '
                 'http.resp.status=200 http.resp.took_ms={ms} session={uuid}',
                 'request started http.req.method=POST http.req.path=/cart session={uuid}'),
    "cartservice": ("GetCartAsync called with userId={uuid}",
                    "AddItemAsync called with userId={uuid}, productId={product}, quantity={n}"),
    "productcatalogservice": ("GetProduct id={product}",
                              "successfully parsed product catalog json"),
    "currencyservice": ("conversion request successful", "Getting supported currencies..."),
    "checkoutservice": ('[PlaceOrder] user_id="{uuid}" user_currency="{currency}"',
                        "payment went through (transaction_id: {uuid})"),
    "paymentservice": ("Transaction processed: visa ending {last4} Amount: {currency}{amount}",),
    "shippingservice": ("[GetQuote] received request", "[ShipOrder] completed request, "
                        "tracking id {track}"),
    "emailservice": ("A request to send order confirmation email to {email} has been received.",),
    "recommendationservice": ("[Recv ListRecommendations] product_ids=['{product}']",),
    "adservice": ("received ad request (context_words=[{word}])",),
    "redis-cart": ("1:M {n} changes in 300 seconds. Saving...", "1:M Background saving started"
                   " by pid {pid}", "1:C DB saved on disk"),
    "vllm": ("INFO metrics.py:{line}] Avg prompt throughput: {amount} tokens/s, Avg generation "
             "throughput: {ms} tokens/s, Running: {n} reqs, Pending: 0 reqs, GPU KV cache usage: "
             "{pct}%",
             'INFO:     10.128.{n}.{last4}:0 - "POST /v1/chat/completions HTTP/1.1" 200 OK'),
    "du-app": ("[PHY] slot {n} cell {cell} DL throughput {amount} Mbps UL {ms} Mbps",
               "[MAC] cell {cell} UE {pid} scheduled PRB {n}"),
}
ERROR: dict[str, tuple[str, ...]] = {
    "frontend": ('request error http.req.path=/cart error="rpc error: code = Unavailable desc = '
                 'connection error" session={uuid}',
                 'could not retrieve cart: rpc error: code = DeadlineExceeded desc = context '
                 'deadline exceeded'),
    "cartservice": ("Can't access cart storage. StackExchange.Redis.RedisTimeoutException: Timeout"
                    " performing HGET (5000ms), inst: {n}, qs: {pid}",),
    "checkoutservice": ("failed to charge card: could not charge the card: rpc error: code = "
                        "Unavailable desc = transport is closing",),
    "paymentservice": ("Unhandled exception in Charge: TypeError: Cannot read properties of "
                       "undefined (reading 'creditCardNumber') at charge.js:{line}",),
    "vllm": ("ERROR engine.py:{line}] Engine background task failed: RuntimeError: CUDA error: "
             "an illegal memory access was encountered",),
    "du-app": ("[SYNC] PTP time sync lost (clock class {cls}), cell {cell} transmission "
               "suspended",),
}
GENERIC_ERROR = "rpc error: code = Unavailable desc = upstream request failed after {ms}ms"


class LogGen:
    """Generates one tick of log records (dicts with the LogBatch columns)."""

    def __init__(self, cluster: Cluster, rng: np.random.Generator, per_tick: int) -> None:
        self.cluster = cluster
        self.rng = rng
        self.per_tick = per_tick
        self.pods = {s.name: [p for p in cluster.pods if p.service == s.name]
                     for s in cluster.services}
        self.prev_generation: np.ndarray | None = None
        self.prev_ptp: np.ndarray | None = None

    def _fill(self, template: str) -> str:
        r = self.rng
        values = {"uuid": r.bytes(16).hex(), "product": PRODUCTS[int(r.integers(6))],
                  "ms": str(int(r.integers(1, 400))), "n": str(int(r.integers(1, 255))),
                  "currency": CURRENCIES[int(r.integers(5))], "last4": str(int(r.integers(1000,
                                                                                     9999))),
                  "amount": f"{r.uniform(1, 500):.2f}", "track": r.bytes(6).hex().upper(),
                  "email": f"user{int(r.integers(1, 99999))}@example.com",
                  "word": WORDS[int(r.integers(len(WORDS)))],
                  "pid": str(int(r.integers(10, 65000))),
                  "line": str(int(r.integers(20, 900))), "pct": f"{r.uniform(5, 95):.1f}",
                  "cell": str(int(r.integers(0, 3)))}
        return template.format_map(_Default(values))

    def _record(self, ts_ns: int, labels: dict[str, str], level: str, body: str) -> dict:
        return {"ts_ns": ts_ns, "labels": labels, "level": level, "body": body,
                "trace_id": "", "span_id": "", "metadata": {}}

    def _pod_labels(self, service: str) -> dict[str, str]:
        pods = self.pods.get(service) or []
        svc = self.cluster.service(service)
        labels = {"namespace": svc.namespace, "app": service, "container": service}
        if pods:
            pod = pods[int(self.rng.integers(len(pods)))]
            labels.update({"pod": pod.name, "node": pod.node})
        return labels

    def generate(self, ts: int, dt: float, frame: ServiceFrame, events: dict,
                 infra: dict) -> list[dict]:
        """Log records of one tick (timestamps spread over the tick)."""
        out: list[dict] = []
        c = self.cluster
        span_ns = int(dt * 1e9)
        base = ts * 1_000_000 - span_ns
        total_rps = float(frame.rps.sum()) or 1.0
        for i, svc in enumerate(c.services):
            share = frame.rps[i] / total_rps
            n_info = int(self.rng.poisson(self.per_tick * share))
            n_err = int(self.rng.binomial(max(n_info, 1) * 3, min(frame.error_ratio[i], 1.0)))
            for _ in range(n_info):
                tmpl = INFO[svc.name][int(self.rng.integers(len(INFO[svc.name])))]
                out.append(self._record(base + int(self.rng.integers(span_ns)),
                                        self._pod_labels(svc.name), "INFO", self._fill(tmpl)))
            for _ in range(min(n_err, 200)):
                tmpls = ERROR.get(svc.name, (GENERIC_ERROR,))
                tmpl = tmpls[int(self.rng.integers(len(tmpls)))]
                body = self._fill(tmpl.replace("{cls}", str(int(events["ptp_class"].max()))
                                               if len(events["ptp_class"]) else "248"))
                out.append(self._record(base + int(self.rng.integers(span_ns)),
                                        self._pod_labels(svc.name), "ERROR", body))
        self._events(out, ts * 1_000_000, events)
        out.sort(key=lambda r: r["ts_ns"])
        return out

    def _events(self, out: list[dict], now_ns: int, events: dict) -> None:
        c = self.cluster
        for j in events["oom"]:
            pod = c.pods[j]
            out.append(self._record(now_ns, {"namespace": "", "app": "kernel", "node": pod.node},
                                    "ERROR", self._fill(
                "Memory cgroup out of memory: Killed process {pid} (" + pod.container
                + ") total-vm:4812344kB, anon-rss:" + str(int(pod.mem_limit_bytes / 1024))
                + "kB, oom_score_adj:1000")))
        gpus = c.gpus
        for g, xid in enumerate(np.asarray(events["gpu_xid"]).tolist()):
            if xid > 0:
                out.append(self._record(now_ns, {"namespace": "", "app": "kernel",
                                                 "node": gpus[g].node}, "ERROR",
                                        f"NVRM: Xid (PCI:{gpus[g].pci_bus_id}): {int(xid)}, "
                                        f"pid={self._fill('{pid}')}, name=python3, "
                                        "Ch 00000008"))
        for node in events["killed_gpu_nodes"]:
            out.append(self._record(now_ns, self._pod_labels("vllm") | {"node": node}, "ERROR",
                                    self._fill(ERROR["vllm"][0])))
        gen = events["generation"]
        if self.prev_generation is not None:
            for i in np.flatnonzero(gen != self.prev_generation):
                svc = c.services[i]
                out.append(self._record(now_ns, {"namespace": svc.namespace, "app": svc.name,
                                                 "container": svc.name}, "INFO",
                                        f'Deployment "{svc.name}" rolled out: generation '
                                        f"{int(gen[i])}, image tag v{int(gen[i])}"))
        self.prev_generation = gen.copy()
        ports = [(n.name, i) for n in c.nodes for i in n.ptp_ifaces]
        for k, (node, iface) in enumerate(ports):
            state = events["ptp_state"][k]
            labels = {"namespace": "openshift-ptp", "app": "linuxptp-daemon", "node": node}
            off = int(events["ptp_offset"][k])
            if state == HOLDOVER:
                body = (f"ptp4l[{now_ns // 10**9}]: [{iface}] timed out while polling for tx "
                        "timestamp")
                out.append(self._record(now_ns, labels, "WARN", body))
            elif state == FREERUN:
                body = (f"ptp4l[{now_ns // 10**9}]: [{iface}] port 1: SLAVE to FAULTY on "
                        f"FAULT_DETECTED (FT_UNSPECIFIED); clock state FREERUN offset {off}")
                out.append(self._record(now_ns, labels, "ERROR", body))
            else:
                body = (f"ptp4l[{now_ns // 10**9}]: [{iface}] rms {abs(off)} max {abs(off) + 9} "
                        f"freq -11803 +/- 12 delay 520 +/- 2")
                out.append(self._record(now_ns, labels, "INFO", body))


class _Default(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
