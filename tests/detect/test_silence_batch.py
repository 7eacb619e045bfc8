"""Cluster silence inside one poll batch: a backlog read in one go still reports it."""

from __future__ import annotations

from schemas.codec import Codec
from streams.detect.silence import NAME, SilenceStage

STEP = 15_000


def _record(name: str, ts: int) -> bytes:
    return Codec("cluster_record").encode({
        "cluster_id": name, "name": name, "type": "SPOKE", "platform": "OPENSHIFT",
        "version": "4.16", "region": "eu", "environment": "prod", "labels": {},
        "endpoints": {}, "capabilities": {"gpu_count": 0, "gpu_models": [], "has_ptp": False,
                                          "has_sriov": False, "has_dpdk": False},
        "status": "ONLINE", "health_score": 1.0, "last_seen": ts, "record_version": ts})


def test_a_silence_and_its_end_in_one_batch_are_reported() -> None:
    """Regression: the clock was only checked after a poll, so a poll holding the dark
    cluster's return (300 s later) as well as its peers' heartbeats reported nothing."""
    st = SilenceStage(silence_ms=120_000)
    st.process([_record(c, k * STEP) for k in range(5) for c in ("a", "b")])
    backlog = [_record("a", k * STEP) for k in range(5, 25)] + [_record("b", 25 * STEP)]
    found = st.process(backlog).anomalies
    assert [(a["name"], a["entity"], a["start_ts"]) for a in found] == [(NAME, "b", 4 * STEP)]
    assert st.tick(25 * STEP) == [] and st.active == set()  # 'b' is back


def test_steady_heartbeats_report_nothing() -> None:
    st = SilenceStage(silence_ms=120_000)
    found = st.process([_record(c, k * STEP) for k in range(40) for c in ("a", "b", "c")])
    assert found.anomalies == [] and st.tick(39 * STEP) == []
