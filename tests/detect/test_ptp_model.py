"""The per-PTP-port River model on simulated linuxptp-daemon series, and its checkpoint."""

from __future__ import annotations

from functools import cache

from streams.detect.metric_stage import MetricStage, StageConfig
from streams.simulator.encoder import TargetEncoder
from streams.simulator.engine import ClusterSim
from streams.simulator.faults import parse_spec, resolve_all
from streams.simulator.topology import build_fleet

START_MS = 1_767_225_600_000
STEP_MS = 15_000
SEED = 7


@cache
def _ptp_scrapes(spec: str | None, ticks: int) -> tuple[list[list[bytes]], str]:
    """Per tick, the MetricBatch payloads of the cluster's ``ptp-monitor`` targets."""
    fleet = build_fleet(4, SEED)
    fault = resolve_all([parse_spec(spec or "ptp_freerun@+30m/6m")], fleet, SEED, START_MS)[0]
    cluster = next(c for c in fleet if c.name == fault.cluster)
    sim = ClusterSim(cluster, SEED, START_MS, STEP_MS, [fault] if spec else [])
    targets = [t for t in sim.table.targets if t.name.startswith("ptp-monitor/")]
    encoders = [TargetEncoder(cluster.name, "sim", t) for t in targets]
    out = []
    for k in range(ticks):
        tick = sim.tick(k)
        out.append([e.encode(f"{k}-{i}", tick.ts, tick.values[t.rows])
                    for i, (e, t) in enumerate(zip(encoders, targets, strict=True))])
    return out, fault.root_cause


def _models(found: list[dict]) -> list[dict]:
    return [a for a in found if a["detector"] == "hst:ptp"]


def test_freerun_port_is_flagged_and_a_healthy_run_stays_quiet() -> None:
    ticks = 150  # fault from tick 120 (30 min) for 6 min; warm-up 60 events
    faulty, port = _ptp_scrapes("ptp_freerun@+30m/6m", ticks)
    healthy, _ = _ptp_scrapes(None, ticks)
    for scrapes, expect in ((faulty, True), (healthy, False)):
        stage = MetricStage(StageConfig(warmup=20))
        found = [a for batch in scrapes for a in _models(stage.process(batch).anomalies)]
        if not expect:
            assert found == []
            continue
        assert found, "the free-running port was not flagged by its model"
        assert {a["entity"] for a in found} == {port}
        assert all(a["entity_type"] == "PTP_CLOCK" and a["name"] == "ptp_multivariate"
                   for a in found)
        first = min(a["sample_ts"] for a in found)
        assert START_MS + 120 * STEP_MS <= first <= START_MS + 126 * STEP_MS
        assert {"offset", "clock_state", "clock_class", "delay"} <= set(found[0]["labels"])


def test_port_models_survive_the_partition_checkpoint() -> None:
    scrapes, port = _ptp_scrapes("ptp_freerun@+30m/6m", 150)
    whole = MetricStage(StageConfig(warmup=20))
    first = MetricStage(StageConfig(warmup=20))
    for batch in scrapes[:119]:
        whole.process(batch)
        first.process(batch)
    second = MetricStage.from_bytes(first.to_bytes(), StageConfig(warmup=20))
    assert len(second.ptp) == len(whole.ptp) > 0
    a, b = [], []
    for batch in scrapes[119:]:
        a += _models(whole.process(batch).anomalies)
        b += _models(second.process(batch).anomalies)
    # No warm-up after the restore: the same anomalies, ids and scores as without one.
    assert a and {x["entity"] for x in a} == {port}
    assert [(x["anomaly_id"], x["score"]) for x in a] == [(x["anomaly_id"], x["score"]) for x in b]
