"""MetricStage without a broker: rates, rules, classification, eviction, checkpoint bytes."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.batches import metric_batch
from schemas.codec import Codec
from streams.detect.columnar import decode_columns
from streams.detect.cooldown import AlertGate
from streams.detect.metric_stage import MetricStage, StageConfig
from streams.settings import Settings
from tests.detect.data import STEP_MS, Targets


def _run(stage: MetricStage, data: Targets, steps: range, spike_at: int | None = None) -> list:
    out = []
    for k in steps:
        payloads = [data.payload(t, k, 500.0 if k == spike_at else None)
                    for t in range(len(data.targets))]
        out += stage.process(payloads).anomalies
    return out


def test_spike_detected_with_entity_and_band() -> None:
    data = Targets(3, 20)
    stage = MetricStage(StageConfig(warmup=20, cooldown_ms=10 * STEP_MS), capacity=8)
    _run(stage, data, range(0, 150))
    found = [a for a in _run(stage, data, range(150, 152), spike_at=150)
             if a["name"] == "app_latency_0"]
    assert len(found) == 3
    a = found[0]
    assert a["type"] == "SPIKE" and a["actual"] == 500.0
    assert a["lower"] < a["expected"] < a["upper"] < 500.0
    assert a["entity_type"] == "POD" and a["entity"].startswith("shop/pod-")
    assert a["start_ts"] == a["sample_ts"] == 150 * STEP_MS
    assert stage.live_series() == 3 * 21


@pytest.mark.parametrize("escalate", [10.0, 0.0])
def test_a_far_stronger_event_is_not_hidden_by_a_weak_ones_cooldown(escalate: float) -> None:
    """A weak dip fires and starts a cooldown; a hundredfold spike three scrapes later is
    a new event (its own anomaly, its own start), not an echo of the dip.  With escalation
    off the cooldown swallows it."""
    data = Targets(1, 1)
    stage = MetricStage(StageConfig(warmup=20, cooldown_ms=10 * STEP_MS, escalate=escalate),
                        capacity=4)
    _run(stage, data, range(0, 150))
    values = {150: 85.0, 153: 10_000.0}
    found = []
    for k in range(150, 156):
        found += [(a["type"], a["start_ts"] // STEP_MS)
                  for a in stage.process([data.payload(0, k, values.get(k))]).anomalies
                  if a["name"] == "app_latency_0"]
    assert found[0] == ("DROP", 150)
    assert found[1:] == ([("SPIKE", 153)] if escalate else [])


def test_counter_is_detected_on_its_rate() -> None:
    data = Targets(1, 1)
    stage = MetricStage(StageConfig(warmup=20), capacity=4)
    _run(stage, data, range(0, 100))
    slot = int(stage.registry.lookup(np.array([data.targets[0][4][-1]]))[0][0])
    # The counter grows ~50 per 15 s scrape: its stored previous value is the raw counter.
    assert stage.counters.prev[slot] > 4000
    # The detector state sees rates (~3.3/s), not the ever-growing raw counter.
    assert 2.0 < float(stage.baseline.level[slot]) < 5.0


def test_counter_reset_is_not_an_anomaly() -> None:
    data = Targets(1, 1)
    stage = MetricStage(StageConfig(warmup=20), capacity=4)
    _run(stage, data, range(0, 100))
    data.counter[0] = 0.0  # process restart: counter starts over
    out = _run(stage, data, range(100, 103))
    assert not [a for a in out if a["name"] == "http_requests_total"]


def test_ptp_rule_fires_once_per_episode() -> None:
    codec = Codec("metric_batch")
    stage = MetricStage(StageConfig(warmup=5))
    labels = [{"node": "n1", "iface": "ens1f0", "process": "ptp4l"}] * 2
    names = ["openshift_ptp_clock_state", "openshift_ptp_offset_ns"]

    def step(k: int, state: float, offset: float) -> list:
        b = metric_batch("c1", "cnf", "n1", k * 1000, names=names, labels=labels,
                         values=[state, offset], timestamps=[k * 1000] * 2, types=["GAUGE"] * 2)
        return [a for a in stage.process([codec.encode(b)]).anomalies
                if a["type"] == "THRESHOLD_BREACH"]

    assert step(0, 1.0, 10.0) == []
    first = step(1, 2.0, 500.0)
    assert {a["detector"] for a in first} == {"rule:ptp_state", "rule:ptp_offset"}
    assert all(a["entity_type"] == "PTP_CLOCK" and a["entity"] == "n1/ens1f0" for a in first)
    assert step(2, 2.0, 500.0) == []
    assert step(3, 1.0, 5.0) == []
    assert [a["severity"] for a in step(4, 0.0, 5.0)] == ["CRITICAL"]


def test_stale_series_are_evicted_and_slots_reused() -> None:
    data = Targets(2, 5)
    stage = MetricStage(StageConfig(warmup=5, stale_ms=20 * STEP_MS), capacity=4)
    for k in range(10):
        stage.process([data.payload(0, k), data.payload(1, k)])
    assert stage.live_series() == 12
    high = stage.registry.high
    evicted = sum(stage.process([data.payload(0, k)]).evicted for k in range(10, 40))
    assert evicted == 6 and stage.live_series() == 6
    other = Targets(1, 5, cluster="c2")
    stage.process([other.payload(0, 40)])
    assert stage.live_series() == 12 and stage.registry.high == high


def test_checkpoint_bytes_round_trip_keeps_warm_state() -> None:
    data = Targets(2, 10)
    cfg = StageConfig(warmup=20, cooldown_ms=STEP_MS)
    stage = MetricStage(cfg)
    _run(stage, data, range(0, 120))
    restored = MetricStage.from_bytes(stage.to_bytes(), cfg)
    assert restored.live_series() == stage.live_series()
    twin = _run(restored, data, range(120, 121), spike_at=120)
    assert [a["name"] for a in twin].count("app_latency_0") == 2


def test_gate_peak_survives_a_checkpoint_and_older_checkpoints_load() -> None:
    """The escalation peak is checkpointed; a checkpoint written before it existed loads
    with no peak known (0), so the restored gate behaves as the old one did."""
    gate = AlertGate(4, z_on=2.5, z_off=1.25, cooldown_ms=1000, escalate=10.0)
    gate.step(np.array([1]), np.array([4.0]), np.array([10]))
    state = gate.state_dict(4)
    restored = AlertGate(4, z_on=2.5, z_off=1.25, cooldown_ms=1000, escalate=10.0)
    restored.load_state_dict(state)
    assert restored.peak[1] == 4.0
    old = AlertGate(4, z_on=2.5, z_off=1.25, cooldown_ms=1000, escalate=10.0)
    old.load_state_dict({k: v for k, v in state.items() if k != "peak"})
    assert bool(old.active[1]) and old.peak[1] == 0.0
    # a held series with no known peak does not escalate
    assert not old.step(np.array([1]), np.array([50.0]), np.array([20]))[0]


def test_duplicate_series_in_one_batch_processed_in_time_order() -> None:
    data = Targets(1, 3)
    stage = MetricStage(StageConfig(warmup=20), capacity=4)
    batch = [data.payload(0, k) for k in range(100)]
    stage.process(batch)  # one call, 100 samples per series
    slot = int(stage.registry.lookup(np.array([data.targets[0][4][0]]))[0][0])
    assert int(stage.detector.store["n_seen"][slot]) == 100
    assert stage.registry.last_seen[slot] == 99 * STEP_MS


def test_corrupt_payload_is_dead_lettered_not_dropped() -> None:
    data = Targets(1, 2)
    stage = MetricStage(StageConfig())
    res = stage.process([b"garbage", data.payload(0, 0)])
    assert [i for i, _ in res.dead] == [0] and res.samples == 3
    assert decode_columns(b"garbage") is None


def test_histogram_buckets_become_quantile_series() -> None:
    codec = Codec("metric_batch")
    stage = MetricStage(StageConfig(warmup=5))
    les = ["0.1", "0.5", "1", "+Inf"]
    names = ["rt_seconds_bucket"] * 4 + ["rt_seconds_count"]
    labels = [{"job": "api", "le": le} for le in les] + [{"job": "api"}]
    counts = np.zeros(5)
    out = []
    for k in range(3):
        counts += [50, 90, 100, 100, 100]  # per 10 s scrape: cumulative per bucket
        b = metric_batch("c1", "t", "api", k * 10_000, names=names, labels=labels,
                         values=list(counts), timestamps=[k * 10_000] * 5,
                         types=["HISTOGRAM"] * 5)
        out += stage.process([codec.encode(b)]).metric_batches
    assert len(out) == 2  # the first scrape has no rates yet
    q = dict(zip([lb["quantile"] for lb in out[-1]["labels"]], out[-1]["values"], strict=True))
    assert q == pytest.approx({"0.5": 0.1, "0.95": 0.75, "0.99": 0.95})
    assert out[-1]["names"] == ["rt_seconds"] * 3 and out[-1]["source"] == "histograms"
    assert out[-1]["labels"][0] == {"job": "api", "quantile": "0.5"}
    restored = MetricStage.from_bytes(stage.to_bytes(), stage.config)
    counts += [50, 90, 100, 100, 100]
    b = metric_batch("c1", "t", "api", 30_000, names=names, labels=labels,
                     values=list(counts), timestamps=[30_000] * 5, types=["HISTOGRAM"] * 5)
    assert len(restored.process([codec.encode(b)]).metric_batches) == 1


def test_valid_avro_with_ragged_columns_is_dead_lettered() -> None:
    codec = Codec("metric_batch")
    data = Targets(1, 3)
    good = metric_batch("c1", "t", "x", 0, names=["a", "b"], labels=[{}, {}], values=[1.0, 2.0],
                        timestamps=[0, 0], types=["GAUGE"] * 2)
    short_labels = dict(good, labels=[{}])  # valid Avro, but one label set for two samples
    short_names = dict(good, names=["a"])
    stage = MetricStage(StageConfig())
    res = stage.process([codec.encode(short_labels), data.payload(0, 0),
                         codec.encode(short_names)])
    assert sorted(i for i, _ in res.dead) == [0, 2]
    assert all("column lengths differ" in r for _, r in res.dead)
    assert stage.live_series() == 4 and res.samples == 4


def test_stage_config_from_settings() -> None:
    """`aiops detect` and the benches build the stage from one place: every detect_* knob
    arrives, in the stage's units."""
    cfg = StageConfig.from_settings(Settings(
        detect_sensitivity="HIGH", detect_warmup=7, detect_cooldown_s=60.0,
        detect_escalate_ratio=4.0, detect_stale_s=120.0, detect_ptp_offset_ns=50.0,
        detect_seasonal_bins=24))
    assert (cfg.sensitivity, cfg.warmup, cfg.cooldown_ms, cfg.escalate, cfg.stale_ms,
            cfg.ptp_offset_ns, cfg.seasonal_bins) == ("HIGH", 7, 60_000, 4.0, 120_000, 50.0, 24)
