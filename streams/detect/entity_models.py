"""Per-entity multivariate River models: one HalfSpaceTrees per GPU, service or PTP port.

HalfSpaceTrees needs features in known ranges; each family gives fixed ``limits``
(utilisation 0-100 %, temperature 0-110 C ...), so no scaler has to learn them.  River
picks each split's feature with a weight proportional to the width of its limits, so
features of very different widths (requests/s up to 5000 beside an error ratio up to 1)
leave the narrow ones almost never split on: the model is then blind to them.  A family
may therefore give ``scales``: each named feature is mapped onto [0, 1] (``linear``;
``log`` for rates and durations spanning decades, whose usual values would otherwise sit in
a corner of the range; ``proportion``, the variance-stabilising arcsine-root of a
binomial ratio, so a few percent of errors is a visible move) and every feature weighs the
same.  Each
event is scored before it is learnt; an entity alerts once its model has seen ``warmup``
events, the score reaches ``threshold`` and it is out of its ``cooldown_ms``.  At most
``max_entities`` models are kept (the least recently seen is dropped first).

Checkpoints (:meth:`EntityModels.to_bytes`, format ``FORMAT``) hold what a model has
learnt, not a pickle: a HalfSpaceTrees' trees are drawn from its seed and the feature
names of its first event, so a model is stored as those names, its window counter, its
node masses (uint16) and a fingerprint of its split thresholds.  Restoring rebuilds the
trees the same way and checks the fingerprint (a River release that draws trees
differently cold-starts that entity and says so); a restored model scores exactly as
the uninterrupted one.

>>> m = EntityModels(limits={"a": (0.0, 100.0)}, threshold=0.9, warmup=60, seed=3)
>>> import random
>>> rnd = random.Random(1)
>>> fired = [m.observe("gpu-1", {"a": rnd.gauss(40, 1)}, t)[1] for t in range(200)]
>>> back = EntityModels.from_bytes(m.to_bytes(), limits={"a": (0.0, 100.0)}, threshold=0.9,
...                                warmup=60, seed=3)
>>> now, restored = m.observe("gpu-1", {"a": 99.0}, 200), back.observe("gpu-1", {"a": 99.0}, 200)
>>> any(fired), now[1], now == restored
(False, True, True)
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import river
from river import anomaly

from streams.logs_setup import get_logger

FORMAT = 1
log = get_logger(__name__)

GPU_LIMITS: dict[str, tuple[float, float]] = {
    "gpu_util": (0.0, 100.0), "mem_copy_util": (0.0, 100.0), "gpu_temp_c": (0.0, 110.0),
    "memory_temp_c": (0.0, 110.0), "power_w": (0.0, 1000.0), "sm_clock_mhz": (0.0, 2500.0),
    "mem_clock_mhz": (0.0, 4000.0), "fb_used_mib": (0.0, 200_000.0),
}
# Every GPU feature on [0, 1]: fb_used_mib's 200,000-wide range would otherwise take
# nearly every split, leaving the model blind to a temperature, clock or utilisation alone.
# (Linear, not log, for memory too: a used-memory doubling is then still a visible move.)
GPU_SCALES: dict[str, str] = dict.fromkeys(GPU_LIMITS, "linear")
SERVICE_LIMITS: dict[str, tuple[float, float]] = {
    "requests_per_second": (0.01, 5000.0), "error_ratio": (0.0, 1.0),
    "duration_p50_seconds": (1e-4, 5.0), "duration_p95_seconds": (1e-4, 10.0),
    "duration_p99_seconds": (1e-4, 20.0),
}
SERVICE_SCALES: dict[str, str] = {
    "requests_per_second": "log", "error_ratio": "proportion", "duration_p50_seconds": "log",
    "duration_p95_seconds": "log", "duration_p99_seconds": "log",
}
SCALES = ("linear", "log", "proportion")


def scaled(value: float, limits: tuple[float, float], scale: str) -> float:
    """``value`` mapped onto [0, 1] within ``limits`` (clipped), by ``scale``.

    >>> round(scaled(0.1, (1e-4, 10.0), "log"), 6), round(scaled(0.25, (0, 1), "proportion"), 6)
    (0.6, 0.333333)
    """
    lo, hi = limits
    v = min(max(value, lo), hi)
    if scale == "log":
        return (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    u = (v - lo) / (hi - lo)
    return math.asin(math.sqrt(u)) * 2.0 / math.pi if scale == "proportion" else u


@dataclass
class _Entity:
    model: Any
    seen: int = 0
    quiet_until: int = 0
    last_ts: int = 0
    features: tuple[str, ...] = ()  # the first event's feature names (they shape the trees)


def _nodes(model: Any) -> list[Any]:
    return [n for t in model.trees for n in t.iter_dfs()]


def _fingerprint(nodes: list[Any]) -> str:
    splits = [(getattr(n, "feature", ""), float(getattr(n, "threshold", 0.0))) for n in nodes]
    return hashlib.blake2b(repr(splits).encode(), digest_size=8).hexdigest()


class EntityModels:
    """One HalfSpaceTrees per entity key."""

    def __init__(self, limits: dict[str, tuple[float, float]], *, threshold: float = 0.75,
                 warmup: int = 100, cooldown_ms: int = 300_000, n_trees: int = 10,
                 height: int = 8, window_size: int = 50, seed: int = 7,
                 max_entities: int = 20_000, scales: dict[str, str] | None = None) -> None:
        self.limits = limits
        self.scales = dict(scales or {})
        bad = {k: v for k, v in self.scales.items() if v not in SCALES or k not in limits
               or (v == "log" and limits[k][0] <= 0)}
        if bad:
            raise ValueError(f"bad scales {bad}: known {SCALES}, on limited features, "
                             "log needs a positive lower limit")
        # The model's own limits: [0, 1] for scaled features.
        self.model_limits = {k: (0.0, 1.0) if k in self.scales else v for k, v in limits.items()}
        self.threshold = float(threshold)
        self.warmup = int(warmup)
        self.cooldown_ms = int(cooldown_ms)
        self.max_entities = int(max_entities)
        if not 0 < window_size < 65536:
            raise ValueError("window_size must be in [1, 65535] (masses are stored as uint16)")
        self.kw = {"n_trees": n_trees, "height": height, "window_size": window_size,
                   "seed": seed}
        self.entities: dict[str, _Entity] = {}

    def _new_model(self) -> Any:
        return anomaly.HalfSpaceTrees(limits=dict(self.model_limits), **self.kw)

    def _inputs(self, features: dict[str, float | None]) -> dict[str, float]:
        """The model's inputs: known, present features, scaled where asked."""
        x = {k: float(v) for k, v in features.items() if k in self.limits and v is not None
             and v == v}
        for k, scale in self.scales.items():
            if k in x:
                x[k] = scaled(x[k], self.limits[k], scale)
        return x

    def score(self, key: str, features: dict[str, float | None]) -> float:
        """``key``'s score of an event, without learning it (0 for an unknown key)."""
        ent, x = self.entities.get(key), self._inputs(features)
        return float(ent.model.score_one(x)) if ent is not None and x else 0.0

    def observe(self, key: str, features: dict[str, float | None], ts: int
                ) -> tuple[float, bool]:
        """Score then learn one event; (score, alert) for ``key``."""
        x = self._inputs(features)
        if not x:
            return 0.0, False
        ent = self.entities.pop(key, None)  # re-inserted last: dict order is recency
        if ent is None:
            ent = _Entity(self._new_model(), features=tuple(sorted(x)))
            while len(self.entities) >= self.max_entities:
                self.entities.pop(next(iter(self.entities)))
        self.entities[key] = ent
        score = float(ent.model.score_one(x))
        ent.model.learn_one(x)
        ent.seen += 1
        ent.last_ts = max(ent.last_ts, int(ts))
        fire = ent.seen > self.warmup and score >= self.threshold and ts >= ent.quiet_until
        if fire:
            ent.quiet_until = ts + self.cooldown_ms
        return score, fire

    def __len__(self) -> int:
        return len(self.entities)

    # -- checkpoints ------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Every entity's learnt state (zlib-compressed JSON, masses as uint16)."""
        out = {}
        for key, ent in self.entities.items():
            m = ent.model
            rec = {"seen": ent.seen, "quiet_until": ent.quiet_until, "last_ts": ent.last_ts,
                   "features": list(ent.features), "counter": m.counter,
                   "first_window": m._first_window}
            if m.trees:
                nodes = _nodes(m)
                masses = np.array([(n.l_mass, n.r_mass) for n in nodes], dtype=np.uint16)
                rec["fingerprint"] = _fingerprint(nodes)
                rec["masses"] = base64.b64encode(masses.tobytes()).decode()
            out[key] = rec
        doc = {"format": FORMAT, "river": river.__version__, "kw": self.kw, "entities": out}
        return zlib.compress(json.dumps(doc).encode(), 6)

    @classmethod
    def from_bytes(cls, blob: bytes, limits: dict[str, tuple[float, float]],
                   **kwargs: Any) -> EntityModels:
        """Models saved by :meth:`to_bytes`; an entity whose trees cannot be rebuilt
        identically (other format, other River tree drawing) starts cold, logged."""
        models = cls(limits, **kwargs)
        doc = json.loads(zlib.decompress(blob).decode())
        if doc.get("format") != FORMAT or doc.get("kw") != models.kw:
            log.warning("entity models not restored: other format or settings",
                        format=doc.get("format"), kw=doc.get("kw"))
            return models
        cold = 0
        for key, rec in doc["entities"].items():
            ent = models._restore(rec)
            if ent is None:
                cold += 1
            else:
                models.entities[key] = ent
        if cold:
            log.warning("entity models cold-started", entities=cold, river=river.__version__,
                        saved_by=doc.get("river"))
        return models

    def _restore(self, rec: dict[str, Any]) -> _Entity | None:
        model = self._new_model()
        feats = tuple(rec["features"])
        if "masses" in rec:
            # The first event only shapes the trees (its features, in sorted order); every
            # mass it adds is overwritten below.
            model.learn_one({f: self.model_limits[f][0] for f in feats})
            nodes = _nodes(model)
            masses = np.frombuffer(base64.b64decode(rec["masses"]), dtype=np.uint16)
            if _fingerprint(nodes) != rec["fingerprint"] or masses.size != 2 * len(nodes):
                return None
            for n, (lm, rm) in zip(nodes, masses.reshape(-1, 2).tolist(), strict=True):
                n.l_mass, n.r_mass = lm, rm
            model.counter = int(rec["counter"])
            model._first_window = bool(rec["first_window"])
        return _Entity(model, int(rec["seen"]), int(rec["quiet_until"]), int(rec["last_ts"]),
                       feats)
