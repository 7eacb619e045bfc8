"""Per-entity multivariate River models (one HalfSpaceTrees per GPU / service).

HalfSpaceTrees needs features in known ranges; each family gives fixed ``limits``
(utilisation 0-100 %, temperature 0-110 C ...), so no scaler has to learn them.  Each
event is scored before it is learnt; an entity alerts once its model has seen ``warmup``
events, the score reaches ``threshold`` and it is out of its ``cooldown_ms``.  River models
are not checkpointed (they only pickle): after a move they re-warm in ``warmup`` events.

>>> m = EntityModels(limits={"a": (0.0, 100.0)}, threshold=0.9, warmup=60, seed=3)
>>> import random
>>> rnd = random.Random(1)
>>> fired = [m.observe("gpu-1", {"a": rnd.gauss(40, 1)}, t)[1] for t in range(200)]
>>> any(fired), m.observe("gpu-1", {"a": 99.0}, 200)[1]
(False, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from river import anomaly

GPU_LIMITS: dict[str, tuple[float, float]] = {
    "gpu_util": (0.0, 100.0), "mem_copy_util": (0.0, 100.0), "gpu_temp_c": (0.0, 110.0),
    "memory_temp_c": (0.0, 110.0), "power_w": (0.0, 1000.0), "sm_clock_mhz": (0.0, 2500.0),
    "mem_clock_mhz": (0.0, 4000.0), "fb_used_mib": (0.0, 200_000.0),
}
SERVICE_LIMITS: dict[str, tuple[float, float]] = {
    "requests_per_second": (0.0, 5000.0), "error_ratio": (0.0, 1.0),
    "duration_p50_seconds": (0.0, 5.0), "duration_p95_seconds": (0.0, 10.0),
    "duration_p99_seconds": (0.0, 20.0),
}


@dataclass
class _Entity:
    model: Any
    seen: int = 0
    quiet_until: int = 0


class EntityModels:
    """One HalfSpaceTrees per entity key."""

    def __init__(self, limits: dict[str, tuple[float, float]], *, threshold: float = 0.75,
                 warmup: int = 100, cooldown_ms: int = 300_000, n_trees: int = 10,
                 height: int = 8, window_size: int = 50, seed: int = 7) -> None:
        self.limits = limits
        self.threshold = float(threshold)
        self.warmup = int(warmup)
        self.cooldown_ms = int(cooldown_ms)
        self.kw = {"n_trees": n_trees, "height": height, "window_size": window_size,
                   "seed": seed}
        self.entities: dict[str, _Entity] = {}

    def observe(self, key: str, features: dict[str, float | None], ts: int
                ) -> tuple[float, bool]:
        """Score then learn one event; (score, alert) for ``key``."""
        x = {k: float(v) for k, v in features.items() if k in self.limits and v is not None
             and v == v}
        if not x:
            return 0.0, False
        ent = self.entities.get(key)
        if ent is None:
            ent = self.entities[key] = _Entity(anomaly.HalfSpaceTrees(
                limits=dict(self.limits), **self.kw))
        score = float(ent.model.score_one(x))
        ent.model.learn_one(x)
        ent.seen += 1
        fire = ent.seen > self.warmup and score >= self.threshold and ts >= ent.quiet_until
        if fire:
            ent.quiet_until = ts + self.cooldown_ms
        return score, fire

    def __len__(self) -> int:
        return len(self.entities)
