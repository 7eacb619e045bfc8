"""GPU stage: rules, the per-GPU HalfSpaceTrees model and the rule-state checkpoint."""

from __future__ import annotations

import random

from schemas.codec import Codec
from streams.detect.gpu_stage import GpuStage

CODEC = Codec("gpu_batch")


def _batch(ts: int, rnd: random.Random, **override: float) -> bytes:
    s = {"ts": ts, "node": "n1", "gpu": 0, "uuid": "GPU-a", "model": "A100", "extra": {},
         "gpu_util": rnd.gauss(60, 2), "gpu_temp_c": rnd.gauss(55, 1),
         "power_w": rnd.gauss(250, 5), "sm_clock_mhz": 1410.0, "mem_clock_mhz": 1593.0,
         "thermal_violation_ns": ts * 1e6 * 0.01, "xid_last": 0.0, **override}
    return CODEC.encode({"batch_id": str(ts), "cluster": "c1", "source": "t", "node": "n1",
                         "scrape_ts": ts, "samples": [s]})


def test_model_flags_a_multivariate_outlier_and_rules_fire() -> None:
    rnd = random.Random(5)
    st = GpuStage()
    found = []
    for k in range(200):
        found += st.process([_batch(k * 15_000, rnd)]).anomalies
    assert found == []
    hot = st.process([_batch(200 * 15_000, rnd, gpu_util=100.0, gpu_temp_c=95.0,
                             power_w=600.0, sm_clock_mhz=900.0,
                             thermal_violation_ns=200 * 15_000 * 1e6 * 0.01 + 9e9)]).anomalies
    assert {a["detector"] for a in hot} == {"hst:gpu", "rule:gpu_thermal_throttle"}
    assert all(a["entity_type"] == "GPU" and a["entity"] == "n1/GPU-a" for a in hot)


def test_rule_state_survives_the_checkpoint() -> None:
    rnd = random.Random(1)
    st = GpuStage()
    st.process([_batch(0, rnd, xid_last=79.0)])
    back = GpuStage.from_bytes(st.to_bytes())
    assert back.process([_batch(15_000, rnd, xid_last=79.0)]).anomalies == []  # same episode
    assert [a["detector"] for a in back.process([_batch(30_000, rnd, xid_last=48.0)]).anomalies
            ] == ["rule:gpu_xid"]


def _scrape(cluster: str, ts: int, uuids: list[str]) -> bytes:
    samples = [{"ts": ts, "node": "gpu-1", "gpu": i, "uuid": u, "model": "A100", "extra": {},
                "gpu_util": 60.0, "xid_last": 0.0} for i, u in enumerate(uuids)]
    return CODEC.encode({"batch_id": f"{cluster}{ts}", "cluster": cluster, "source": "t",
                         "node": "gpu-1", "scrape_ts": ts, "samples": samples})


def test_same_node_name_in_two_clusters_is_two_nodes() -> None:
    """Regression: nodes were known by name alone, so every scrape of ``gpu-1`` in one
    cluster reported the GPUs of ``gpu-1`` in another as fallen off the bus."""
    st = GpuStage()
    found = []
    for k in range(5):
        found += st.process([_scrape("c1", k * 15_000, ["GPU-a", "GPU-b"]),
                             _scrape("c2", k * 15_000, ["GPU-x", "GPU-y"])]).anomalies
    assert [a for a in found if a["detector"] == "rule:gpu_missing"] == []
    gone = st.process([_scrape("c2", 5 * 15_000, ["GPU-x"])]).anomalies
    assert [(a["cluster"], a["entity"]) for a in gone if a["detector"] == "rule:gpu_missing"
            ] == [("c2", "gpu-1/GPU-y")]
    # The node's GPUs survive the checkpoint with their cluster.
    back = GpuStage.from_bytes(st.to_bytes())
    again = back.process([_scrape("c1", 6 * 15_000, ["GPU-a", "GPU-b"])]).anomalies
    assert [a for a in again if a["detector"] == "rule:gpu_missing"] == []


def test_every_gpu_feature_weighs_the_same() -> None:
    """Regression: fb_used_mib's 0-200,000 range took nearly every split of the raw-limit
    trees, so a GPU whose utilisation alone collapsed scored like a normal scrape."""
    rnd = random.Random(5)
    st = GpuStage()
    normal = []
    for k in range(300):
        feats = {"gpu_util": rnd.gauss(60, 2), "mem_copy_util": rnd.gauss(20, 1),
                 "gpu_temp_c": rnd.gauss(55, 1), "memory_temp_c": rnd.gauss(60, 1),
                 "power_w": rnd.gauss(250, 5), "sm_clock_mhz": 1410.0,
                 "mem_clock_mhz": 1593.0, "fb_used_mib": rnd.gauss(30_000, 500)}
        score, _ = st.models.observe("n1/GPU-a", feats, k * 15_000)
        normal.append(score)

    def score(**move: float) -> float:
        return st.models.score("n1/GPU-a", {**feats, **move})

    assert max(normal[100:]) < 0.3
    assert score(gpu_util=10.0) > 0.6
    assert score(gpu_temp_c=95.0) > 0.35 and score(power_w=600.0) > 0.35
    # memory moves still count, but no longer alone
    assert 0.1 < score(fb_used_mib=79_000.0) < 0.5
