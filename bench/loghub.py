"""Loghub 2k grouping accuracy of the Drain3 template miner, beside Drain's published figures.

Usage: ``python bench/loghub.py [--generic] [--no-cache]``. The last line printed is one JSON
object: ``mean_grouping_accuracy`` and one key per system (lower-cased).
Data: ``$AIOPS_SHARED_DIR/eval/loghub`` (default ``<repo>/../shared/eval/loghub``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.logs.evaluation import (  # noqa: E402
    DRAIN_PUBLISHED,
    LOGHUB_SYSTEMS,
    evaluate_system,
    loghub_dir,
    settings_for,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generic", action="store_true",
                    help="one configuration for all systems (no per-system sim_th/depth)")
    ap.add_argument("--no-cache", action="store_true",
                    help="disable the masked-line -> cluster cache (plain Drain3 routing)")
    args = ap.parse_args(argv)
    root = loghub_dir()
    if not root.is_dir():
        print(f"Loghub data not found at {root} (set AIOPS_SHARED_DIR)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    print(f"{'system':<12} {'sim_th':>6} {'depth':>5} {'ours':>6} {'drain':>6} {'diff':>7} "
          f"{'tpl':>5} {'truth':>5}")
    scores: dict[str, float] = {}
    for system in LOGHUB_SYSTEMS:
        s = settings_for(system, generic_only=args.generic)
        r = evaluate_system(system, s, root, cache=not args.no_cache)
        scores[system] = r.accuracy
        pub = DRAIN_PUBLISHED[system]
        print(f"{system:<12} {s.sim_th:>6.2f} {s.depth:>5d} {r.accuracy:>6.3f} {pub:>6.3f} "
              f"{r.accuracy - pub:>+7.3f} {r.templates:>5d} {r.truth_templates:>5d}")
    mean = sum(scores.values()) / len(scores)
    pub_mean = sum(DRAIN_PUBLISHED.values()) / len(DRAIN_PUBLISHED)
    print(f"{'mean':<12} {'':>6} {'':>5} {mean:>6.3f} {pub_mean:>6.3f} {mean - pub_mean:>+7.3f}")
    print(f"# {time.perf_counter() - t0:.1f}s, generic={args.generic}, cache={not args.no_cache}")
    out = {"mean_grouping_accuracy": round(mean, 4)}
    out |= {k.lower(): round(v, 4) for k, v in scores.items()}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
