"""Single-process throughput of the template miner on replayed Loghub lines.

All 16 x 2k Loghub ``Content`` fields are shuffled and replayed with every digit run that is not
glued to letters replaced by a random number of the same width (so masks and the cache see fresh
values), one miner per system.
Measured: our miner with the masked-line cache (default), without it, and plain Drain3
``TemplateMiner.add_log_message`` with the same rules as sequential ``MaskingInstruction``s.
Also measured: the sink's path, ``TemplateAssigner.assign`` on LogBatch-shaped records (one
stream per system, default miner settings, template id + text + parameters of every line):
``assign_lines_per_s``.
Last line: JSON with ``lines_per_s`` (the default configuration) and the other figures.

Usage: ``python bench/logs_throughput.py [--lines 300000] [--seed 7]``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drain3 import TemplateMiner  # noqa: E402
from drain3.template_miner_config import TemplateMinerConfig  # noqa: E402

from streams.logs.assignment import TemplateAssigner  # noqa: E402
from streams.logs.evaluation import LOGHUB_SYSTEMS, load_system, loghub_dir, settings_for  # noqa: E402
from streams.logs.masking import masking_instructions  # noqa: E402
from streams.logs.preprocess import loghub_parser  # noqa: E402
from streams.logs.templates import LogTemplateMiner, MinerSettings  # noqa: E402

# digit runs not glued to letters ("en0", "ipv4", "v2" keep their digits, like real logs do)
_DIGITS = re.compile(r"(?<![A-Za-z])\d+(?![A-Za-z])")


def workload(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (system, content) pairs, digits randomised."""
    rng = random.Random(seed)
    base: list[tuple[str, str]] = []
    for system in LOGHUB_SYSTEMS:
        raw, _ = load_system(system)
        parser = loghub_parser(system)
        base += [(system, parser.content(line) or line) for line in raw]
    rng.shuffle(base)

    def vary(m: re.Match[str]) -> str:
        w = len(m.group())
        return str(rng.randrange(10 ** (w - 1) if w > 1 else 0, 10**w))

    return [(s, _DIGITS.sub(vary, c)) for s, c in (base[i % len(base)] for i in range(n))]


def run_ours(lines: list[tuple[str, str]], cache: bool) -> float:
    miners: dict[str, LogTemplateMiner] = {}
    for system in LOGHUB_SYSTEMS:
        s: MinerSettings = settings_for(system)
        miners[system] = LogTemplateMiner(s if cache else replace(s, cache_size=0))
    t0 = time.perf_counter()
    for system, line in lines:
        miners[system].add(line)
    return len(lines) / (time.perf_counter() - t0)


def run_assigner(lines: list[tuple[str, str]], per_record: int = 1000) -> float:
    """The sink's path: records of up to ``per_record`` lines of one stream each."""
    by_system: dict[str, list[str]] = {}
    records = []
    for system, line in lines:
        chunk = by_system.setdefault(system, [])
        chunk.append(line)
        if len(chunk) == per_record:
            records.append((system, by_system.pop(system)))
    records += list(by_system.items())
    recs = [{"cluster": "bench", "labels": [{"namespace": "loghub", "app": s}] * len(b),
             "bodies": b} for s, b in records]
    assigner = TemplateAssigner()
    t0 = time.perf_counter()
    for offset, rec in enumerate(recs):
        assigner.assign(("aiops.logs", 0), offset, rec)
    return len(lines) / (time.perf_counter() - t0)


def run_plain_drain3(lines: list[tuple[str, str]]) -> float:
    miners: dict[str, TemplateMiner] = {}
    for system in LOGHUB_SYSTEMS:
        s = settings_for(system)
        cfg = TemplateMinerConfig()
        cfg.drain_sim_th, cfg.drain_depth = s.sim_th, s.depth
        cfg.masking_instructions = masking_instructions(s.rules)
        miners[system] = TemplateMiner(config=cfg)
    t0 = time.perf_counter()
    for system, line in lines:
        miners[system].add_log_message(line)
    return len(lines) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-plain", action="store_true", help="skip the plain Drain3 baseline")
    args = ap.parse_args(argv)
    if not loghub_dir().is_dir():
        print(f"Loghub data not found at {loghub_dir()} (set AIOPS_SHARED_DIR)", file=sys.stderr)
        return 2
    lines = workload(args.lines, args.seed)
    out: dict[str, float | int] = {"lines": len(lines)}
    out["lines_per_s_no_cache"] = run_ours(lines, cache=False)
    print(f"ours, no cache      : {out['lines_per_s_no_cache']:>10,.0f} lines/s")
    if not args.skip_plain:
        out["plain_drain3_lines_per_s"] = run_plain_drain3(lines)
        print(f"plain drain3        : {out['plain_drain3_lines_per_s']:>10,.0f} lines/s")
    out["lines_per_s"] = run_ours(lines, cache=True)
    print(f"ours, cache (default): {out['lines_per_s']:>10,.0f} lines/s")
    out["assign_lines_per_s"] = run_assigner(lines)
    print(f"sink assignment     : {out['assign_lines_per_s']:>10,.0f} lines/s (with params)")
    print(json.dumps({k: round(v) for k, v in out.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
