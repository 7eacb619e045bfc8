"""Deterministic root-cause scoring: an incident context in, ``RankedCause`` dicts out.

Score of a candidate (all weights are the global :class:`RankingConfig`, never per case):

1. **own evidence**: for each signal kind, the strongest anomaly's magnitude
   (``sqrt(score)``) times the kind's weight; resource and event signals weigh more than
   symptoms (latency, errors, traffic), which propagate along calls;
2. **edges**: an anomalous caller -> callee edge credits its endpoints; silence (the
   caller stopped calling) and changed calls per request go to the caller, a server-side
   edge signal to the callee, otherwise it is shared by how much of each endpoint's
   edges are anomalous (the common endpoint of many anomalous edges is the cause);
3. **callee over callers**: a caller's latency/error symptoms that an anomalous callee
   explains (the callee or the edge to it shows the same symptom, or for latency a
   resource or network signal, or an event such as a restart, silence or changed calls
   per request, no later than the caller) are discounted and credited to the callee; a
   callee that explains by latency alone explains the share of the caller's slowdown
   (in ms) that its own slowdown covers;
   a node's network signal confined to the failing calls into one of the services serving
   on it (of two or more) is credited to that service the same way;
4. **onset**: earlier onsets get a bonus decaying with ``onset_tau_ms``;
5. **logs and traces**: novel templates, error bursts and exemplar failing spans (a
   service's error logs discounted like its error series, or its latency, where a callee
   explains them: a timeout is a slow call logged as an error);
6. **patterns**: a known causal pattern (see :mod:`streams.rca.patterns`) adds its
   strength to the entity it blames, and names the pattern.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from streams.rca import patterns as pattern_rules
from streams.rca.candidates import TYPE_ORDER, EntityRef, collect, edge_endpoints, entities_of
from streams.rca.context import IncidentContext
from streams.rca.evidence import (
    RESOURCES,
    SYMPTOMS,
    Signal,
    anomaly_evidence,
    evidence,
    latency_delta_ms,
    magnitude,
    signal_of,
)
from streams.rca.graph import ServiceGraph

_DEFAULT_WEIGHTS = {
    Signal.GPU_XID: 1.0, Signal.OOM: 1.0, Signal.RESTART: 0.8, Signal.PTP: 1.0,
    Signal.CHANGE: 0.8, Signal.SILENCE: 1.0, Signal.FLOW: 0.8, Signal.CPU: 1.0,
    Signal.MEMORY: 1.0, Signal.DISK: 0.8,
    Signal.NETWORK: 0.8, Signal.GPU: 1.0, Signal.ERRORS: 0.8, Signal.LATENCY: 0.6,
    Signal.TRAFFIC: 0.4, Signal.LOG: 0.7, Signal.OTHER: 0.3,
}
_SERVER_SIDES = frozenset({"server", "destination", "dst", "callee"})
_EXPLAINABLE = (Signal.LATENCY, Signal.ERRORS)
_EVENTS = frozenset({Signal.GPU_XID, Signal.OOM, Signal.RESTART, Signal.PTP, Signal.CHANGE,
                     Signal.SILENCE, Signal.FLOW})
#: Edge signals that speak about the caller: it stopped calling, or calls differently per
#: request (the callee would show its own silence or symptoms if it were the cause).
_CALLER_SIGNALS = frozenset({Signal.SILENCE, Signal.FLOW})
#: What a callee (or the edge to it) must show to explain a caller's symptom.
_EXPLAINS = {
    Signal.LATENCY: frozenset({Signal.LATENCY, Signal.NETWORK} | RESOURCES | _EVENTS),
    Signal.ERRORS: frozenset({Signal.ERRORS} | _EVENTS),
}


@dataclass(frozen=True)
class RankingConfig:
    """Global ranking parameters (documented in docs/rca.md)."""

    weights: dict[Signal, float] = field(default_factory=lambda: dict(_DEFAULT_WEIGHTS))
    edge_weight: float = 0.6
    explained_discount: float = 0.7
    explain_credit: float = 0.5
    onset_weight: float = 0.5
    onset_tau_ms: int = 120_000
    onset_slack_ms: int = 60_000
    pattern_weight: float = 2.0
    log_weight: float = 0.7
    trace_weight: float = 0.1
    max_causes: int = 20


@dataclass
class _Cand:
    ref: EntityRef
    service: str | None
    by_signal: dict[Signal, float] = field(default_factory=dict)
    onset: dict[Signal, int] = field(default_factory=dict)
    extra: float = 0.0
    pattern: str = ""
    anomaly_records: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    rule_records: list[dict[str, Any]] = field(default_factory=list)
    topo_records: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    log_records: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    trace_records: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    @property
    def first_onset(self) -> int | None:
        return min(self.onset.values()) if self.onset else None


def _service_of_ref(ref: EntityRef, anomalies: list[dict[str, Any]]) -> str | None:
    if ref.entity_type == "SERVICE":
        return ref.entity
    for a in anomalies:
        for r in entities_of(a):
            if r.entity_type == "SERVICE":
                return r.entity
    return None


def _from_spans(a: dict[str, Any]) -> bool:
    """An anomaly of the RED series the detector derives from spans (service or edge)."""
    return str(a.get("name", "")).startswith(("aiops_red_", "aiops_edge_"))


def _is_client_side(a: dict[str, Any]) -> bool:
    side = str((a.get("labels") or {}).get("side", "")).lower()
    return side in ("client", "source", "caller")


def _share_service_evidence(cands: dict[EntityRef, _Cand],
                            by_service: dict[str, list[_Cand]]) -> None:
    """Service-level signals (not from any pod) count for each of its pods, split evenly."""
    for svc, members in by_service.items():
        service = cands.get(EntityRef("SERVICE", svc))
        pods = [c for c in members if c.ref.entity_type == "POD"]
        if service is None or not pods:
            continue
        pod_sig: dict[Signal, float] = {}
        for p in pods:
            for sig, mag in p.by_signal.items():
                pod_sig[sig] = max(pod_sig.get(sig, 0.0), mag)
        for sig, mag in service.by_signal.items():
            if mag <= pod_sig.get(sig, 0.0):
                continue
            for p in pods:
                p.by_signal[sig] = max(p.by_signal.get(sig, 0.0), mag / len(pods))
                p.onset.setdefault(sig, service.onset[sig])


def _top(records: list[tuple[float, dict[str, Any]]], n: int) -> list[dict[str, Any]]:
    ordered = sorted(records, key=lambda t: (-t[0], t[1]["kind"], t[1]["ref"]))
    return [r for _, r in ordered[:n]]


def _service_over_node(ctx: IncidentContext, cands: dict[EntityRef, _Cand],
                       by_service: dict[str, list[_Cand]],
                       strongest: dict[tuple[str, str, Signal, bool], tuple[float, Any]],
                       cfg: RankingConfig) -> dict[EntityRef, float]:
    """A node's network signal (retransmissions, drops) confined to the calls into one of
    the services it hosts speaks about that service (its pods' network path), not the node:
    of two or more services serving requests on the node, only that one has failing
    incoming calls (lost packets fail calls; where no call into the node's services fails,
    slow calls count instead).  A faulty NIC would fail the calls into all of them.  The
    node's network evidence is discounted and credited to the service, as a callee is
    credited over its callers; returns the discount per node."""
    into = {sig: {v for (_u, v, s, _srv) in strongest if s is sig} for sig in _EXPLAINABLE}
    w = cfg.weights
    out: dict[EntityRef, float] = {}
    for ref, c in sorted(cands.items(), key=lambda t: t[0].entity):
        mag = c.by_signal.get(Signal.NETWORK, 0.0)
        hosted = ctx.node_services.get(ref.entity, ()) if ref.entity_type == "NODE" else ()
        hit = ([s for s in hosted if s in into[Signal.ERRORS]]
               or [s for s in hosted if s in into[Signal.LATENCY]])
        if mag <= 0.0 or len(hosted) < 2 or len(hit) != 1 or not by_service.get(hit[0]):
            continue
        out[ref] = cfg.explained_discount
        moved = cfg.explain_credit * w[Signal.NETWORK] * mag
        rec = evidence("TOPOLOGY", f"{ref.entity}->{hit[0]}",
                       f"network signal of node {ref.entity} confined to the calls into "
                       f"{hit[0]} (1 of {len(hosted)} services serving on it)",
                       c.onset.get(Signal.NETWORK), moved)
        for sc in by_service[hit[0]]:
            sc.extra += moved
            sc.topo_records.append((moved, rec))
    return out


def rank(ctx: IncidentContext, config: RankingConfig | None = None) -> list[dict[str, Any]]:
    """Rank the candidate root causes of ``ctx``, best first, as ``RankedCause`` dicts."""
    cfg = config or RankingConfig()
    w = cfg.weights
    members = collect(ctx)
    cands = {ref: _Cand(ref, _service_of_ref(ref, anoms)) for ref, anoms in members.items()}
    for svc in sorted(ctx.pods):
        if EntityRef("SERVICE", svc) in cands:
            for pod in ctx.pods[svc]:
                cands.setdefault(EntityRef("POD", pod), _Cand(EntityRef("POD", pod), svc))

    edge_anoms = [(a, edge_endpoints(a)) for a in ctx.anomalies
                  if str(a.get("entity_type", "")).upper() == "EDGE"]
    edge_anoms = [(a, e) for a, e in edge_anoms if e is not None]
    graph = ServiceGraph(ctx.edges, pairs=[e for _, e in edge_anoms])

    # 1. own evidence: strongest anomaly per signal kind.  Client-side symptoms (what a
    # service sees when it calls out) are evidence about its callees, not about itself.
    client_side: dict[str, dict[str, Any]] = {}
    slower_ms: dict[EntityRef, float] = defaultdict(float)
    span_slower_ms: dict[EntityRef, float] = defaultdict(float)  # from span RED only
    for ref, anoms in members.items():
        c = cands[ref]
        for a in anoms:
            sig, mag, ts = signal_of(a), magnitude(a), int(a["start_ts"])
            if sig in _EXPLAINABLE and _is_client_side(a):
                client_side[str(a["anomaly_id"])] = a
                continue
            if sig is Signal.LATENCY:
                slower_ms[ref] = max(slower_ms[ref], latency_delta_ms(a))
                if _from_spans(a):
                    span_slower_ms[ref] = max(span_slower_ms[ref], latency_delta_ms(a))
            if mag > c.by_signal.get(sig, 0.0):
                c.by_signal[sig] = mag
            c.onset[sig] = min(ts, c.onset.get(sig, ts))
            c.anomaly_records.append((mag, anomaly_evidence(a)))

    by_service: dict[str, list[_Cand]] = defaultdict(list)
    for c in cands.values():
        if c.service:
            by_service[c.service].append(c)
    _share_service_evidence(cands, by_service)

    for aid in sorted(client_side):
        a = client_side[aid]
        caller = next((r.entity for r in entities_of(a) if r.entity_type == "SERVICE"), None)
        callees = graph.callees(caller) if caller else ()
        for v in callees:
            credit = cfg.edge_weight * w[signal_of(a)] * magnitude(a) / len(callees)
            rec = evidence("TOPOLOGY", f"{caller}->{v}",
                           f"{a['name']} seen by caller {caller} (client side), shared by "
                           f"its {len(callees)} callees", int(a["start_ts"]), credit)
            for c in by_service.get(v, []):
                c.extra += credit
                c.topo_records.append((credit, rec))

    # 2. edges.  An endpoint's share grows with how much of its edges are anomalous, each
    # anomalous edge weighted by its strongest anomaly against the incident's strongest
    # edge (a caller with one loud slow edge and two faint ones is not "all edges slow").
    edge_mag: dict[tuple[str, str], float] = defaultdict(float)
    for a, e in edge_anoms:
        edge_mag[e] = max(edge_mag[e], magnitude(a))
    loudest = max(edge_mag.values(), default=0.0) or 1.0
    touched: dict[str, float] = defaultdict(float)
    for (u, v), mag in edge_mag.items():
        touched[u] += mag / loudest
        touched[v] += mag / loudest

    def frac(s: str) -> float:
        return touched[s] / max(1, graph.degree(s))

    strongest: dict[tuple[str, str, Signal, bool], tuple[float, dict[str, Any]]] = {}
    caller_events: dict[str, dict[Signal, int]] = defaultdict(dict)
    for a, (u, v) in edge_anoms:
        sig = signal_of(a)
        server = str((a.get("labels") or {}).get("side", "")).lower() in _SERVER_SIDES
        if sig in _CALLER_SIGNALS:
            server = False  # both sides of one silent edge are one piece of evidence
            ts = int(a["start_ts"])
            caller_events[u][sig] = min(ts, caller_events[u].get(sig, ts))
        key = (u, v, sig, server)
        if key not in strongest or magnitude(a) > strongest[key][0]:
            strongest[key] = (magnitude(a), a)
    for (u, v, sig, server), (mag, a) in sorted(strongest.items(), key=lambda t: t[0]):
        shares = ({u: 1.0} if sig in _CALLER_SIGNALS else {v: 1.0} if server else
                  {u: frac(u) / (frac(u) + frac(v)), v: frac(v) / (frac(u) + frac(v))})
        for svc, share in shares.items():
            credit = cfg.edge_weight * w.get(sig, 0.3) * mag * share
            rec = evidence("TOPOLOGY", f"{u}->{v}",
                           f"{sig.value} anomaly on edge {u}->{v} "
                           f"({'server side' if server else f'share {share:.2f}'})",
                           int(a["start_ts"]), credit)
            for c in by_service[svc]:
                c.extra += credit
                c.topo_records.append((credit, rec))

    # 3. callee over callers: the callee explains when it (or the edge to it) shows the
    # same symptom, or for latency a resource or network signal, or an event (restart,
    # OOM, XID ...), no later than the caller.
    edge_onset: dict[tuple[str, str], dict[Signal, int]] = defaultdict(dict)
    edge_slower_ms: dict[tuple[str, str], float] = defaultdict(float)
    for a, (u, v) in edge_anoms:
        sig, ts = signal_of(a), int(a["start_ts"])
        if sig not in _CALLER_SIGNALS:
            edge_onset[(u, v)][sig] = min(ts, edge_onset[(u, v)].get(sig, ts))
        if sig is Signal.LATENCY:
            edge_slower_ms[(u, v)] = max(edge_slower_ms[(u, v)], latency_delta_ms(a))
    svc_cand = {c.service: c for c in cands.values()
                if c.ref.entity_type == "SERVICE" and c.service}
    discount: dict[tuple[str, Signal], float] = {}
    for u in sorted(svc_cand):
        cu = svc_cand[u]
        for sig in _EXPLAINABLE:
            if cu.by_signal.get(sig, 0.0) <= 0.0:
                continue
            t_u = cu.onset[sig]
            explainers: list[tuple[_Cand, float]] = []
            for v in graph.callees(u):
                cv = svc_cand.get(v)
                if cv is None:
                    continue
                found = [(s, t) for s, t in cv.onset.items()
                         if s in cv.by_signal and s in _EXPLAINS[sig]]
                found += [(s, t) for s, t in caller_events.get(v, {}).items()
                          if s in _EXPLAINS[sig]]
                found += [(s, t) for s, t in edge_onset.get((u, v), {}).items()
                          if s in _EXPLAINS[sig]]
                found = [(s, t) for s, t in found if t <= t_u + cfg.onset_slack_ms]
                if not found:
                    continue
                share = 1.0
                if sig is Signal.LATENCY and all(s is Signal.LATENCY for s, _ in found):
                    # Latency alone explains only as much of the caller's slowdown as the
                    # callee's own (or the call's) slowdown covers: 3 ms cannot explain 1 s.
                    # Like with like: span RED against the (span-measured) edge and the
                    # callee's span RED where the caller has them; a histogram quantile
                    # interpolated in a coarse bucket can overstate a slowdown threefold.
                    callee_ms = max(span_slower_ms.get(cv.ref, 0.0),
                                    edge_slower_ms.get((u, v), 0.0))
                    caller_ms = span_slower_ms.get(cu.ref, 0.0)
                    if caller_ms <= 0.0 or callee_ms <= 0.0:
                        caller_ms = slower_ms.get(cu.ref, 0.0)
                        callee_ms = max(callee_ms, slower_ms.get(cv.ref, 0.0))
                    share = min(1.0, callee_ms / caller_ms) if caller_ms > 0 else 1.0
                if share > 0:
                    explainers.append((cv, share))
            if not explainers:
                continue
            # What is discounted from the caller moves to its explainers in proportion to
            # how much of the symptom each explains.
            best = max(share for _, share in explainers)
            total = sum(share for _, share in explainers)
            discount[(u, sig)] = cfg.explained_discount * best
            for cv, share in explainers:
                moved = (cfg.explain_credit * w[sig] * cu.by_signal[sig] * best
                         * share / total)
                rec = evidence("TOPOLOGY", f"{u}->{cv.service}",
                               f"{cv.service} explains {sig.value} of its caller {u}",
                               t_u, moved)
                for c in by_service[cv.service or ""]:
                    c.extra += moved
                    c.topo_records.append((moved, rec))

    node_discount = _service_over_node(ctx, cands, by_service, strongest, cfg)

    # 4-5. logs and traces.  A service's error logs are a symptom like its error series:
    # where a callee explains its errors, or its latency (a timeout is a slow call logged as
    # an error), they are discounted the same way.
    for ev in ctx.log_events:
        s = math.log1p(ev.count / (ev.baseline_count + 1.0))
        s *= (2.0 if ev.novel else 1.0) * (1.5 if ev.is_error else 1.0) * cfg.log_weight
        if ev.is_error:
            svc = ev.service or ev.entity
            s *= 1.0 - max(discount.get((svc, sig), 0.0) for sig in _EXPLAINABLE)
        rec = evidence("LOG_TEMPLATE", ev.template_id,
                       f"{'novel' if ev.novel else 'burst'} template x{ev.count} "
                       f"(baseline {ev.baseline_count}): {ev.template}", ev.first_ts or None, s)
        refs = [EntityRef(ev.entity_type.upper(), ev.entity)]
        if ev.service and refs[0] != EntityRef("SERVICE", ev.service):
            refs.append(EntityRef("SERVICE", ev.service))  # (a service's own stream: once)
        for ref in refs:
            c = cands.setdefault(ref, _Cand(ref, ev.service or None))
            c.extra += s
            c.log_records.append((s, rec))
            if ev.first_ts:
                c.onset[Signal.LOG] = min(ev.first_ts, c.onset.get(Signal.LOG, ev.first_ts))
    trace_hits: dict[EntityRef, int] = defaultdict(int)
    for tr in sorted(ctx.traces, key=lambda t: (not t.error, -t.duration_ms, t.trace_id)):
        refs = [EntityRef("SERVICE", tr.service)] + ([EntityRef("POD", tr.pod)] if tr.pod else
                                                     [c.ref for c in by_service.get(tr.service, [])
                                                      if c.ref.entity_type == "POD"])
        s = cfg.trace_weight * (1.0 if tr.error else 0.5)
        rec = evidence("TRACE", tr.trace_id,
                       f"{'failed' if tr.error else 'slow'} span {tr.operation} on "
                       f"{tr.service}: {tr.duration_ms:.1f} ms", tr.ts, s)
        for ref in refs:
            if ref not in cands:
                continue
            trace_hits[ref] += 1
            if trace_hits[ref] <= 3:
                cands[ref].extra += s
                cands[ref].trace_records.append((s, rec))

    # 6. patterns.
    for m in pattern_rules.match(ctx.anomalies):
        c = cands.setdefault(m.cause, _Cand(m.cause, None))
        c.extra += cfg.pattern_weight * m.strength
        c.pattern = c.pattern or m.pattern
        c.rule_records.extend(m.records())

    t0 = min((c.first_onset for c in cands.values() if c.first_onset is not None), default=0)
    scored: list[tuple[float, int, str, _Cand]] = []
    for c in cands.values():
        score = c.extra
        for sig, mag in c.by_signal.items():
            d = discount.get((c.service or "", sig), 0.0) if sig in SYMPTOMS else 0.0
            if sig is Signal.NETWORK:
                d = max(d, node_discount.get(c.ref, 0.0))
            score += w.get(sig, 0.3) * mag * (1.0 - d)
        if c.by_signal and c.first_onset is not None:
            score += cfg.onset_weight * math.exp(-(c.first_onset - t0) / cfg.onset_tau_ms)
        score = round(score, 6)
        if score > 0:
            order = TYPE_ORDER.index(c.ref.entity_type) if c.ref.entity_type in TYPE_ORDER \
                else len(TYPE_ORDER)
            scored.append((-score, order, c.ref.entity, c))
    scored.sort(key=lambda t: t[:3])
    out = []
    for i, (neg, _, _, c) in enumerate(scored[: cfg.max_causes], start=1):
        ev = (c.rule_records + _top(c.anomaly_records, 5) + _top(c.topo_records, 3)
              + _top(c.log_records, 3) + _top(c.trace_records, 3))
        out.append({"rank": i, "entity_type": c.ref.entity_type, "entity": c.ref.entity,
                    "score": -neg, "pattern": c.pattern, "evidence": ev})
    return out
