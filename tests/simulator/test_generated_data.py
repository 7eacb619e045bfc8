"""The generated data is what it claims: deterministic, monotone counters, daily seasonality."""

from __future__ import annotations

import numpy as np

from schemas.batches import metric_batch
from schemas.codec import Codec
from streams.simulator.emitters.direct import cluster_record, log_batches, span_batches
from streams.simulator.encoder import TargetEncoder, batch_id
from streams.simulator.engine import ClusterSim
from streams.simulator.faults import load_schedule, resolve_all
from streams.simulator.series import BUCKET, RATE
from streams.simulator.topology import build_fleet
from streams.simulator.workload import daily_profile
from tests.simulator.helpers import START_MS, STEP_MS, rate, run_pair


def _encoded_run(seed: int, ticks: int = 6) -> list[bytes]:
    """Every Avro payload a 4-cluster fleet with faults produces, in order."""
    fleet = build_fleet(4, seed)
    faults = resolve_all(load_schedule("demo-short"), fleet, seed, START_MS - 130_000)
    codecs = {n: Codec(n) for n in ("gpu_batch", "span_batch", "log_batch", "cluster_record")}
    out: list[bytes] = []
    for c in fleet:
        sim = ClusterSim(c, seed, START_MS, STEP_MS, faults)
        encs = [TargetEncoder(c.name, "simulator", t) for t in sim.table.targets]
        for k in range(ticks):
            tick = sim.tick(k)
            for enc, t in zip(encs, sim.table.targets, strict=True):
                out.append(enc.encode(batch_id(seed, c.name, t.name, k), tick.ts,
                                      tick.values[t.rows]))
            for node, samples in tick.gpu_by_node.items():
                out.append(codecs["gpu_batch"].encode({
                    "batch_id": batch_id("gpu", seed, node, k), "cluster": c.name,
                    "source": "simulator", "node": node, "scrape_ts": tick.ts,
                    "samples": samples}))
            for rec in span_batches(c.name, tick.spans, tick.ts, seed, k).values():
                out.append(codecs["span_batch"].encode(rec))
            for rec in log_batches(c.name, tick.logs, tick.ts, seed, k).values():
                out.append(codecs["log_batch"].encode(rec))
            out.append(codecs["cluster_record"].encode(cluster_record(sim, tick)))
    return out


def test_same_seed_gives_byte_identical_batches() -> None:
    a, b = _encoded_run(11), _encoded_run(11)
    assert len(a) == len(b) > 100
    assert a == b


def test_different_seed_gives_different_data() -> None:
    a, b = _encoded_run(11, ticks=2), _encoded_run(12, ticks=2)
    assert a != b


def test_fast_encoder_matches_the_codec() -> None:
    c = build_fleet(2, 5)[1]
    sim = ClusterSim(c, 5, START_MS, STEP_MS)
    tick = sim.tick(0)
    codec = Codec("metric_batch")
    for t in sim.table.targets:
        enc = TargetEncoder(c.name, "simulator", t)
        vals = tick.values[t.rows]
        fast = enc.encode("b" * 32, tick.ts, vals)
        ref = codec.encode(metric_batch(c.name, "simulator", t.name, tick.ts, names=t.names,
                                        labels=t.labels, values=vals.tolist(),
                                        timestamps=[tick.ts] * len(vals), types=t.types,
                                        batch_id="b" * 32))
        assert fast == ref, t.name
        decoded = codec.decode(fast)
        assert decoded["values"] == vals.tolist() and decoded["target"] == t.name


def test_counters_are_monotone_between_restarts() -> None:
    f, _ = run_pair("memory_leak@+1m/8m", ticks=44)
    sim = f.sim
    values = np.array([t.values for t in f.ticks])
    counter = (sim.table.mode == RATE) | (sim.table.mode == BUCKET)
    types = np.empty(len(sim.table), dtype=object)
    for t in sim.table.targets:
        types[t.rows] = t.types
    assert set(types[counter]) <= {"COUNTER", "HISTOGRAM"}
    diffs = np.diff(values[:, counter], axis=0)
    reset_src = sim.table.reset[counter]
    state = np.array([sim.layout.pack(t.state) for t in f.ticks])
    restarted = np.zeros_like(diffs, dtype=bool)
    has_reset = reset_src >= 0
    restarted[:, has_reset] = np.diff(state[:, reset_src[has_reset]], axis=0) > 0
    assert restarted.any(), "the leak should have restarted a container"
    assert (diffs[~restarted] >= 0).all()
    assert (diffs[restarted] <= 0).all()  # a restart shows as a counter reset
    assert (diffs[restarted] < 0).sum() >= 3  # cpu and network counters start again


def test_daily_seasonality() -> None:
    """Request rates follow the 24 h profile: correlation and the FFT peak at one cycle/day."""
    c = build_fleet(1, 3)[0]
    step = 600_000  # 10 minutes, 3 days
    sim = ClusterSim(c, 3, START_MS, step, traces_per_tick=0, logs_per_tick=0)
    ticks = [sim.tick(k) for k in range(3 * 144)]
    idx = [int(t.rows[i]) for t in sim.table.targets for i, (n, lbl) in
           enumerate(zip(t.names, t.labels, strict=True))
           if n == "http_server_requests_seconds_count" and lbl["service"] == "frontend"]
    rps = rate(np.array([t.values[idx[0]] for t in ticks])) / 600.0
    ts = np.array([t.ts for t in ticks])[1:]
    profile = daily_profile(ts / 1000.0, c.tz_offset_h)
    assert np.corrcoef(rps, profile)[0, 1] > 0.95
    spectrum = np.abs(np.fft.rfft(rps - rps.mean()))
    freqs = np.fft.rfftfreq(len(rps), d=600.0)
    assert abs(freqs[int(np.argmax(spectrum))] - 1 / 86_400) < 1 / 86_400 / 3
    cpu = [int(t.rows[i]) for t in sim.table.targets for i, (n, lbl) in
           enumerate(zip(t.names, t.labels, strict=True))
           if n == "node_cpu_seconds_total" and lbl["mode"] == "idle"]
    idle = rate(np.array([t.values[cpu] for t in ticks])).mean(axis=1)
    assert np.corrcoef(idle, profile)[0, 1] < -0.5  # busier by day, idler at night
