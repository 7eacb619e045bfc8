"""Score the pipeline against ground truth: pure functions over faults, incidents and reports.

Rules (documented in docs/demo.md):

* An incident is a *candidate* for a fault when it is on the fault's cluster and it opened, or
  gained a member (anomaly or alert, by event time), within ``[start_ts - early_s,
  end_ts + grace_s]``: an incident opened earlier that absorbs the fault's anomalies counts.
* A candidate naming one of the fault's affected entities belongs to that fault only; one naming
  none of the entities of any candidate fault belongs to every fault it is a candidate for.
* A fault is detected when it has at least one incident; time to detect is the earliest
  opening or member event time of its incidents from ``start_ts`` to the window's end, minus
  ``start_ts`` (0 for an incident already open then: what it held before the fault started
  was not caused by it). The fleet raises its own alert for most fault kinds, and an incident
  holding it counts; *detected by anomaly* counts only anomaly members, and its time is that
  of the first member anomaly on one of the fault's affected entities (else of any member).
* The cause rank is the best rank of the true root cause in the latest reports of the
  fault's incidents: the same entity type and identity (the simulator's naming convention),
  where a Deployment and the Service of the same ``namespace/name`` are one workload (a
  bad rollout is rightly blamed on either).
* Incidents belonging to no fault are false. Fault-free time is, per cluster, the observed span
  minus the fault windows ``[start - early_s, end + grace_s]``; the rate is per cluster-hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from streams.scorecard.model import Fault, FaultScore, Incident, Report, Scorecard

HOUR_MS = 3_600_000


def _entity_key(text: str) -> tuple[str, str]:
    kind, _, ident = text.partition(":")
    return (kind.upper(), ident) if ident else ("", kind)


def _overlaps(fault: Fault, incident: Incident) -> bool:
    wanted = {_entity_key(a) for a in fault.affected}
    wanted.add((fault.root_cause_type.upper(), fault.root_cause))
    idents = {i for _, i in wanted}
    for e in incident.entities:
        kind, ident = _entity_key(e)
        if (kind, ident) in wanted or (not kind and ident in idents):
            return True
    return False


#: Entity types naming one workload when their identity (``namespace/name``) is equal.
_WORKLOAD = frozenset({"SERVICE", "DEPLOYMENT"})


def names_root_cause(fault: Fault, entity_type: str, entity: str) -> bool:
    """True when ``entity_type:entity`` is the fault's root cause (see the module rules)."""
    want, got = fault.root_cause_type.upper(), entity_type.upper()
    same_type = want == got or (want in _WORKLOAD and got in _WORKLOAD)
    return same_type and entity == fault.root_cause


def cause_rank(fault: Fault, report: Report | None) -> int | None:
    """Rank (1 = first) of the fault's root cause among the report's causes, None if absent."""
    if report is None:
        return None
    ordered = sorted(report.causes, key=lambda c: c.rank)
    for position, cause in enumerate(ordered, start=1):
        if names_root_cause(fault, cause.entity_type, cause.entity):
            return position
    return None


def first_in_window(fault: Fault, incident: Incident, early_s: float, grace_s: float,
                    anomalies_only: bool = False) -> int | None:
    """The incident's earliest opening or member event time inside the fault's window.

    ``anomalies_only``: only its anomaly members count (its opening too when it lists no
    members at all), not the alerts the fleet itself raised.
    """
    lo, hi = fault.start_ts - early_s * 1000, fault.end_ts + grace_s * 1000
    inside = [t for t in _times(incident, anomalies_only) if lo <= t <= hi]
    return min(inside) if inside else None


def _times(incident: Incident, anomalies_only: bool) -> tuple[int, ...]:
    if anomalies_only:
        known = incident.member_ts or incident.alert_ts
        return incident.member_ts if known else (incident.opened_ts,)
    return (incident.opened_ts, *incident.member_ts, *incident.alert_ts)


def detect_delay_s(fault: Fault, incidents: Iterable[Incident], grace_s: float,
                   anomalies_only: bool = False) -> float | None:
    """Seconds from the fault's start to the first evidence of it in ``incidents`` (see the
    module rules); None when none holds any in ``[start_ts, end_ts + grace_s]``."""
    lo, hi = fault.start_ts, fault.end_ts + grace_s * 1000
    incidents = list(incidents)
    if anomalies_only:
        wanted = {_entity_key(a) for a in fault.affected}
        wanted.add((fault.root_cause_type.upper(), fault.root_cause))
        on_target = [t for i in incidents for t, e in i.member_entities
                     if lo <= t <= hi and _entity_key(e) in wanted]
        if on_target:
            return (min(on_target) - lo) / 1000
    times = [t for i in incidents for t in _times(i, anomalies_only) if lo <= t <= hi]
    return (min(times) - lo) / 1000 if times else None


def assign(faults: list[Fault], incidents: Iterable[Incident], early_s: float,
           grace_s: float) -> dict[str, list[Incident]]:
    """fault_id -> the incidents that belong to it (see the module rules)."""
    owned: dict[str, list[Incident]] = {f.fault_id: [] for f in faults}
    for inc in incidents:
        candidates = [f for f in faults if f.cluster == inc.cluster
                      and first_in_window(f, inc, early_s, grace_s) is not None]
        specific = [f for f in candidates if _overlaps(f, inc)]
        for f in specific or candidates:
            owned[f.fault_id].append(inc)
    return owned


def fault_free_hours(faults: list[Fault], spans: Mapping[str, tuple[int, int]], early_s: float,
                     grace_s: float) -> float:
    """Cluster-hours of observed time outside every fault window of that cluster."""
    total_ms = 0
    for cluster, (lo, hi) in spans.items():
        windows = sorted((max(lo, int(f.start_ts - early_s * 1000)),
                          min(hi, int(f.end_ts + grace_s * 1000)))
                         for f in faults if f.cluster == cluster)
        covered, cursor = 0, lo
        for start, end in windows:
            start = max(start, cursor)
            if end > start:
                covered += end - start
                cursor = end
        total_ms += max(0, hi - lo - covered)
    return total_ms / HOUR_MS


def score(faults: list[Fault], incidents: list[Incident], reports: Iterable[Report],
          spans: Mapping[str, tuple[int, int]], *, early_s: float = 60.0,
          grace_s: float = 300.0, anomalies: Iterable[tuple[str, int]] = ()) -> Scorecard:
    """The scorecard of one run. ``spans``: cluster -> observed (first, last) sample time.

    ``anomalies`` (cluster, start_ts) only feed a diagnostic: how many anomalies each fault's
    cluster had in its window (a missed fault with none was never detected; with some, it was
    detected but not grouped into an incident).
    """
    anomalies = list(anomalies)
    latest: dict[str, Report] = {}
    for r in reports:
        if r.incident_id not in latest or r.created_ts >= latest[r.incident_id].created_ts:
            latest[r.incident_id] = r
    owned = assign(faults, incidents, early_s, grace_s)
    scores = []
    for f in sorted(faults, key=lambda x: (x.start_ts, x.cluster, x.fault_id)):
        seen = {i.incident_id: first_in_window(f, i, early_s, grace_s) or i.opened_ts
                for i in owned[f.fault_id]}
        mine = sorted(owned[f.fault_id], key=lambda i: seen[i.incident_id])
        s = FaultScore(f.fault_id, f.kind, f.cluster, f"{f.root_cause_type}:{f.root_cause}",
                       f.start_ts, f.end_ts, detected=bool(mine),
                       incident_ids=[i.incident_id for i in mine])
        lo, hi = f.start_ts - early_s * 1000, f.end_ts + grace_s * 1000
        s.anomalies = sum(1 for c, t in anomalies if c == f.cluster and lo <= t <= hi)
        if mine:
            delay = detect_delay_s(f, mine, grace_s)
            s.time_to_detect_s = 0.0 if delay is None else delay
            by_anomaly = [i for i in mine
                          if first_in_window(f, i, early_s, grace_s, True) is not None]
            s.detected_by_anomaly = bool(by_anomaly)
            if by_anomaly:
                delay = detect_delay_s(f, by_anomaly, grace_s, True)
                s.anomaly_time_to_detect_s = 0.0 if delay is None else delay
            ranked = [(r, i) for i in mine
                      if (r := cause_rank(f, latest.get(i.incident_id))) is not None]
            best = min(ranked, key=lambda x: x[0]) if ranked else None
            s.cause_rank = best[0] if best else None
            # The cause shown: from the incident that ranked the truth best, else the first.
            shown = latest.get(best[1].incident_id if best else mine[0].incident_id)
            if shown and shown.causes:
                top = min(shown.causes, key=lambda c: c.rank)
                s.top_cause = f"{top.entity_type}:{top.entity}"
        scores.append(s)
    matched = {i.incident_id for incs in owned.values() for i in incs}
    false = sorted(i.incident_id for i in incidents if i.incident_id not in matched)
    return Scorecard(scores, false, fault_free_hours(faults, spans, early_s, grace_s),
                     incidents=len(incidents), anomalies=len(anomalies))
