"""Per-entity River models (GPU, service) are checkpointed with their stage: no warm-up."""

from __future__ import annotations

import base64
import json
import random
import zlib

from schemas.codec import Codec
from streams.detect.entity_models import GPU_LIMITS, EntityModels
from streams.detect.gpu_stage import GpuStage
from streams.detect.traces import TraceStage
from tests.detect.test_gpu_stage import _batch
from tests.detect.test_traces_logs import _spans


def _ids_scores(found: list[dict], detector: str) -> list[tuple[str, float]]:
    return [(a["anomaly_id"], a["score"]) for a in found if a["detector"] == detector]


def test_gpu_models_restore_warm_with_identical_scores() -> None:
    rnd = random.Random(9)
    events = [_batch(k * 15_000, rnd) for k in range(160)]
    hot = dict(gpu_util=100.0, gpu_temp_c=95.0, power_w=600.0, sm_clock_mhz=900.0)
    events += [_batch(k * 15_000, rnd, **(hot if k in (161, 170) else {}))
               for k in range(160, 180)]
    whole, first = GpuStage(), GpuStage()
    for e in events[:150]:
        whole.process([e])
        first.process([e])
    second = GpuStage.from_bytes(first.to_bytes())
    model_a = whole.models.entities["n1/GPU-a"].model
    model_b = second.models.entities["n1/GPU-a"].model
    probe = {"gpu_util": 61.0, "gpu_temp_c": 54.0, "power_w": 240.0, "sm_clock_mhz": 1410.0}
    assert model_a.score_one(probe) == model_b.score_one(probe)
    a = [x for e in events[150:] for x in whole.process([e]).anomalies]
    b = [x for e in events[150:] for x in second.process([e]).anomalies]
    # The outlier 11 events after the hand-over is caught: a cold model (warm-up 100) could
    # not; and the restored model says exactly what the uninterrupted one says.
    assert _ids_scores(a, "hst:gpu") and _ids_scores(a, "hst:gpu") == _ids_scores(b, "hst:gpu")
    assert GpuStage().models.warmup == 100


def test_service_models_restore_warm_with_identical_scores() -> None:
    codec = Codec("span_batch")
    # One 10 s window per batch; HalfSpaceTrees scores from its second window (50 events).
    # At 620 s: a burst of failing requests (100x the traffic, all cart calls fail).
    windows = [codec.encode(_spans(t, 2000, error_every=1) if t == 620 else _spans(t, 20))
               for t in range(0, 700, 10)]
    whole, first = TraceStage(10_000, 0), TraceStage(10_000, 0)
    for w in windows[:60]:
        whole.process([w])
        first.process([w])
    second = TraceStage.from_bytes(first.to_bytes())
    assert len(second.models) == len(whole.models) == 2
    a = [x for w in windows[60:] for x in whole.process([w]).anomalies]
    b = [x for w in windows[60:] for x in second.process([w]).anomalies]
    assert _ids_scores(a, "hst:service")
    assert _ids_scores(a, "hst:service") == _ids_scores(b, "hst:service")


def test_models_of_another_river_tree_drawing_start_cold() -> None:
    models = EntityModels(GPU_LIMITS)
    rnd = random.Random(2)
    for t in range(120):
        models.observe("g", {"gpu_util": rnd.gauss(50, 3), "power_w": rnd.gauss(200, 5)}, t)
    doc = json.loads(zlib.decompress(models.to_bytes()))
    doc["entities"]["g"]["fingerprint"] = "0" * 16  # trees drawn differently
    back = EntityModels.from_bytes(zlib.compress(json.dumps(doc).encode()), GPU_LIMITS)
    assert len(back) == 0
    doc["format"] = 99
    assert len(EntityModels.from_bytes(zlib.compress(json.dumps(doc).encode()), GPU_LIMITS)) == 0
    good = EntityModels.from_bytes(models.to_bytes(), GPU_LIMITS)
    assert good.entities["g"].seen == 120
    masses = base64.b64decode(doc["entities"]["g"]["masses"])
    assert len(zlib.compress(models.to_bytes())) < 4 * len(masses)  # compact, not a pickle


def test_entity_count_is_bounded() -> None:
    models = EntityModels(GPU_LIMITS, max_entities=3)
    for i in range(5):
        models.observe(f"g{i}", {"gpu_util": 50.0}, i)
    models.observe("g2", {"gpu_util": 50.0}, 6)  # recently seen: kept
    models.observe("g9", {"gpu_util": 50.0}, 7)
    assert list(models.entities) == ["g2", "g9", "g4"] or set(models.entities) == {"g2", "g4",
                                                                                   "g9"}
