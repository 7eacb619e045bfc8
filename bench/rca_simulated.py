"""Root-cause ranking accuracy on the simulator's ground truth, for every fault kind.

Each case simulates one cluster of a seeded fleet with one fault (see
:mod:`streams.evaluation.simulated`); the context is built from its series, spans and logs
by our detectors, ranked, and only then compared with the fault's root cause.

Keys: ``top1_pod``/``top3_pod`` count an exact entity match (the root cause's own type and
identity: pod, service, node, GPU, PTP clock, cluster); ``top1_service``/``top3_service``
count a match at service granularity (a pod, or a deployment of the same name, answers for
its service; GPU, node, PTP clock and cluster root causes still need the exact entity).

Usage: ``python bench/rca_simulated.py [--seeds 3] [--verbose]``; last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.evaluation.simulated import KINDS, run_case  # noqa: E402
from streams.rca.ranking import rank  # noqa: E402

KEYS = ("top1_service", "top3_service", "top1_pod", "top3_pod")


def _service_level(entity_type: str, entity: str, pod_service: dict[str, str]) -> str:
    """Pods answer for their service, and so does a deployment of the same name."""
    if entity_type == "POD" and entity in pod_service:
        return f"SERVICE:{pod_service[entity]}"
    if entity_type == "DEPLOYMENT":
        return f"SERVICE:{entity}"
    return f"{entity_type}:{entity}"


def evaluate(seeds: int = 3, verbose: bool = False) -> dict:
    rows = []
    for kind in KINDS:
        for seed in range(1, seeds + 1):
            t = time.perf_counter()
            case = run_case(kind, seed)
            causes = rank(case.context)
            pod_service = {p.entity: f"{p.namespace}/{p.service}"
                           for p in case.cluster.pods if p.service}
            truth = f"{case.fault.root_cause_type}:{case.fault.root_cause}"
            truth_svc = _service_level(case.fault.root_cause_type, case.fault.root_cause,
                                       pod_service)
            exact = [f"{c['entity_type']}:{c['entity']}" for c in causes]
            svc: list[str] = []
            for c in causes:
                s = _service_level(c["entity_type"], c["entity"], pod_service)
                if s not in svc:
                    svc.append(s)
            row = {"kind": kind, "seed": seed, "top1_service": svc[:1] == [truth_svc],
                   "top3_service": truth_svc in svc[:3], "top1_pod": exact[:1] == [truth],
                   "top3_pod": truth in exact[:3], "seconds": time.perf_counter() - t}
            rows.append(row)
            if verbose:
                hit = ("OK  " if row["top1_service"] else
                       "top3" if row["top3_service"] else "MISS")
                print(f"{kind:22s} seed={seed} truth={truth} {hit} pred={svc[:3]}", flush=True)
    n = len(rows)
    out: dict = {k: round(sum(r[k] for r in rows) / n, 4) for k in KEYS}
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r)
    out["per_fault_kind"] = {
        k: {"cases": len(rs), **{m: round(sum(r[m] for r in rs) / len(rs), 4) for m in KEYS}}
        for k, rs in by_kind.items()}
    out["cases"] = n
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    print(json.dumps(evaluate(args.seeds, args.verbose)))


if __name__ == "__main__":
    main()
