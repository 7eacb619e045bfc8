"""Root-cause ranking accuracy on the Nezha Online Boutique faults (../shared/eval/nezha-ob).

For every fault the incident context is built only from data the pipeline has at the
time (see :mod:`streams.evaluation.nezha_context`): our streaming detectors over the
metrics, trace RED around the inject time, the dependency edges.  The ranking never sees
the label; the label is read afterwards to score top-1/top-3 at service and pod level.

Usage: ``python bench/rca_nezha.py [--verbose]``; the last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.evaluation import nezha  # noqa: E402
from streams.evaluation.incident_window import HarnessConfig  # noqa: E402
from streams.evaluation.nezha_context import build_context, metric_z  # noqa: E402
from streams.rca.ranking import rank  # noqa: E402

PUBLISHED = {"nezha_top1_service": 0.929, "nezha_top3_service": 0.964}


def ranked_services(causes: list[dict]) -> list[str]:
    """Distinct services in rank order (a pod counts for its service)."""
    out: list[str] = []
    for c in causes:
        name = c["entity"].rsplit("/", 1)[-1]
        svc = nezha.service_of_pod(name) if c["entity_type"] == "POD" else name
        if c["entity_type"] in ("POD", "SERVICE") and svc not in out:
            out.append(svc)
    return out


def ranked_pods(causes: list[dict]) -> list[str]:
    return [c["entity"].rsplit("/", 1)[-1] for c in causes if c["entity_type"] == "POD"]


def evaluate(verbose: bool = False, limit: int | None = None,
             cfg: HarnessConfig | None = None) -> dict:
    """Run every case of every day; return the summary figures."""
    cfg = cfg or HarnessConfig()
    rows = []
    latencies = []
    for day in nezha.days():
        frame = nezha.load_metrics(day)
        z = metric_z(frame, cfg)
        static = nezha.load_dependencies(day)
        for case in nezha.fault_cases(day)[:limit]:
            t = time.perf_counter()
            ctx = build_context(day, case.inject_ms, frame, z, static, cfg)
            t_rank = time.perf_counter()
            causes = rank(ctx)
            latencies.append(time.perf_counter() - t_rank)
            svcs, pods = ranked_services(causes), ranked_pods(causes)
            row = {"day": day, "fault_type": case.fault_type, "service": case.service,
                   "pod": case.pod, "pred_services": svcs[:3], "pred_pods": pods[:3],
                   "top1_service": svcs[:1] == [case.service],
                   "top3_service": case.service in svcs[:3],
                   "top1_pod": pods[:1] == [case.pod], "top3_pod": case.pod in pods[:3],
                   "anomalies": len(ctx.anomalies), "seconds": time.perf_counter() - t}
            rows.append(row)
            if verbose:
                hit = ("OK  " if row["top1_service"] else
                       "top3" if row["top3_service"] else "MISS")
                print(f"{day} {case.fault_type:15s} {case.service:22s} {hit} "
                      f"pred={svcs[:3]} n={len(ctx.anomalies)}", flush=True)
    n = len(rows)
    summary = {k: round(sum(r[k] for r in rows) / n, 4) if n else 0.0
               for k in ("top1_service", "top3_service", "top1_pod", "top3_pod")}
    by_type: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_type[r["fault_type"]].append(r)
    summary["per_fault_type"] = {
        t: {"cases": len(rs), **{k: round(sum(r[k] for r in rs) / len(rs), 4)
                                 for k in ("top1_service", "top3_service", "top1_pod")}}
        for t, rs in sorted(by_type.items())}
    # Held-out style check: the figures on each half of the cases (alternate cases in
    # inject order), so a rule that only fits some cases shows as a gap between halves.
    summary["halves_top1_service"] = [
        round(sum(r["top1_service"] for r in rows[h::2]) / max(1, len(rows[h::2])), 4)
        for h in (0, 1)]
    summary["cases"] = n
    summary["rank_p95_s"] = round(sorted(latencies)[int(0.95 * (n - 1))], 4) if n else 0.0
    summary.update(PUBLISHED)
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--detector", choices=("robust", "metric"), default="robust",
                    help="streaming detector that gates metric anomalies (default robust)")
    args = ap.parse_args()
    if not nezha.data_dir().is_dir():
        sys.exit(f"Nezha data not found at {nezha.data_dir()} (set AIOPS_SHARED_DIR)")
    cfg = HarnessConfig(metric_detector=args.detector)
    print(json.dumps(evaluate(args.verbose, cfg=cfg)))


if __name__ == "__main__":
    main()
