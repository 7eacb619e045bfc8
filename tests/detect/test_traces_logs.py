"""RED metrics and edges from spans; log template anomalies; their checkpoints."""

from __future__ import annotations

from schemas.codec import Codec
from streams.detect.logs import LogStage
from streams.detect.traces import RedAggregator, TraceStage, error_ratio

S = 1_000_000_000


def _spans(t0_s: int, n: int, error_every: int = 0) -> dict:
    """``n`` requests front -> cart (front SERVER root, front CLIENT, cart SERVER)."""
    rec: dict = {k: [] for k in ("trace_ids", "span_ids", "parent_span_ids", "services",
                                 "operations", "kinds", "start_ns", "duration_ns",
                                 "status_codes", "status_messages", "attributes", "resources")}
    for i in range(n):
        root, client, server = f"r{t0_s}-{i}", f"c{t0_s}-{i}", f"s{t0_s}-{i}"
        err = bool(error_every) and i % error_every == 0
        for sid, parent, svc, op, kind, dur in (
                (root, "", "front", "GET /", "SERVER", 0.030),
                (client, root, "front", "call cart", "CLIENT", 0.020),
                (server, client, "cart", "get", "SERVER", 0.010 + 0.001 * (i % 10))):
            rec["trace_ids"].append(f"{i:032x}")
            rec["span_ids"].append(sid)
            rec["parent_span_ids"].append(parent)
            rec["services"].append(svc)
            rec["operations"].append(op)
            rec["kinds"].append(kind)
            rec["start_ns"].append(t0_s * S + i * (S // n))
            rec["duration_ns"].append(int(dur * S))
            rec["status_codes"].append("ERROR" if err and svc == "cart" else "OK")
            rec["status_messages"].append("")
            rec["attributes"].append({})
            rec["resources"].append({"k8s.namespace.name": "shop"})
    return {"batch_id": str(t0_s), "cluster": "c1", "source": "test",
            "received_ts": t0_s * 1000, **rec}


def test_red_and_edges_per_window() -> None:
    red = RedAggregator(window_ms=10_000, lateness_ms=5_000)
    for t in range(0, 10):
        red.add(_spans(t, 20, error_every=4))
    assert red.close() == []  # window [0, 10 s) is still open (lateness)
    red.add(_spans(15, 1))
    (batch,) = red.close()
    got = {(n, lb.get("service"), lb.get("caller")): v
           for n, lb, v in zip(batch["names"], batch["labels"], batch["values"], strict=True)}
    assert got[("aiops_red_requests_per_second", "cart", None)] == 20.0
    assert got[("aiops_red_requests_per_second", "front", None)] == 20.0
    # 50 failures in 200 requests: the count-aware bound, a little under the plain 0.25
    assert got[("aiops_red_error_ratio", "cart", None)] == error_ratio(50, 200)
    assert 0.19 < error_ratio(50, 200) < 0.25
    assert got[("aiops_red_error_ratio", "front", None)] == 0.0
    assert 0.0105 <= got[("aiops_red_duration_p50_seconds", "cart", None)] <= 0.0145
    assert got[("aiops_red_duration_p99_seconds", "cart", None)] >= 0.018
    assert got[("aiops_edge_calls_per_second", "cart", "front")] == 20.0
    assert got[("aiops_edge_error_ratio", "cart", "front")] == error_ratio(50, 200)
    assert batch["source"] == "traces" and batch["timestamps"][0] == 10_000
    Codec("metric_batch").encode(batch)  # a valid MetricBatch for aiops.metrics


def test_trace_stage_checkpoint_keeps_open_windows() -> None:
    codec = Codec("span_batch")
    st = TraceStage(window_ms=10_000, lateness_ms=0)
    st.process([codec.encode(_spans(0, 5))])
    back = TraceStage.from_bytes(st.to_bytes())
    out = back.process([codec.encode(_spans(12, 1))]).metric_batches
    assert len(out) == 1 and "aiops_edge_calls_per_second" in out[0]["names"]


def _logs(t_ms: int, bodies: list[str], levels: list[str] | None = None) -> dict:
    n = len(bodies)
    return {"batch_id": "b", "cluster": "c1", "source": "test", "received_ts": t_ms,
            "timestamps_ns": [t_ms * 1_000_000] * n,
            "labels": [{"namespace": "shop", "app": "cart", "pod": "cart-1"}] * n,
            "levels": levels or ["INFO"] * n, "bodies": bodies, "trace_ids": [""] * n,
            "span_ids": [""] * n, "metadata": [{}] * n}


def test_log_new_template_rate_spike_and_error_burst() -> None:
    st = LogStage(window_ms=1000, warmup_lines=50)
    normal = [f"GET /api/items/{i} 200 in {i % 7}ms" for i in range(40)]
    normal += [f"cache hit key=user:{i}" for i in range(10)]
    found = []
    for w in range(12):
        found += st.add(_logs(w * 1000, normal, ["INFO"] * 45 + ["ERROR"] * 5))
    assert found == []
    found += st.add(_logs(12_000, ["disk /dev/sdb1 failed: I/O error at sector 1234"]))
    burst = normal + [f"cache hit key=user:{i}" for i in range(200)]
    found += st.add(_logs(13_000, burst, ["ERROR"] * len(burst)))
    found += st.add(_logs(14_000, normal))
    kinds = {(a["detector"], a["type"]) for a in found}
    assert kinds == {("drain_new_template", "PATTERN_BREAK"), ("drain_template_rate", "SPIKE"),
                     ("log_error_burst", "SPIKE")}
    new = next(a for a in found if a["detector"] == "drain_new_template")
    assert new["entity_type"] == "POD" and new["entity"] == "shop/cart-1"
    assert "failed" in new["labels"]["template"] and new["labels"]["template_id"]


def test_log_stage_checkpoint_round_trip() -> None:
    st = LogStage(window_ms=1000, warmup_lines=5)
    for w in range(3):
        st.add(_logs(w * 1000, [f"GET /x/{i} 200" for i in range(10)]))
    back = LogStage.from_bytes(st.to_bytes())
    assert back.add(_logs(3000, ["GET /x/99 200"])) == []  # known template, still known
    assert [a["detector"] for a in back.add(_logs(3001, ["kernel panic now"]))] == [
        "drain_new_template"]
