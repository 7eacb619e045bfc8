"""Each fault kind moves the signals it claims to, compared with a no-fault run (same seed)."""

from __future__ import annotations

import numpy as np
import pytest

from streams.simulator.faults import CATALOGUE
from tests.simulator.helpers import Run, rate, run_pair

SPEC = "@+2m/5m"


def _pod(run: Run) -> str:
    return run.fault.root_cause.split("/", 1)[1]


def _mean_latency(run: Run, service: str) -> np.ndarray:
    s = rate(run.series("http_server_requests_seconds_sum", service=service))[:, 0]
    c = rate(run.series("http_server_requests_seconds_count", service=service))[:, 0]
    return s / np.maximum(c, 1e-9)


def _err_ratio(run: Run, service: str) -> np.ndarray:
    err = rate(run.series("http_server_requests_total", service=service, code="5xx"))[:, 0]
    ok = rate(run.series("http_server_requests_total", service=service, code="2xx"))[:, 0]
    return err / np.maximum(err + ok, 1e-9)


def _in(run: Run) -> np.ndarray:
    """Window mask aligned with rate() output (one shorter)."""
    return run.window()[1:]


def test_cpu_saturation() -> None:
    f, base = run_pair("cpu_saturation" + SPEC)
    pod = _pod(f)
    thr_f = rate(f.series("container_cpu_cfs_throttled_seconds_total", pod=pod))[:, 0]
    thr_b = rate(base.series("container_cpu_cfs_throttled_seconds_total", pod=pod))[:, 0]
    w = _in(f)
    assert thr_f[w].mean() > 10 * max(thr_b[w].mean(), 0.1)
    assert np.allclose(thr_f[~w][:4], thr_b[~w][:4])
    cpu_f = rate(f.series("container_cpu_usage_seconds_total", pod=pod))[:, 0]
    assert cpu_f[w].mean() / 15 > 1.9  # pegged at its 2-core limit
    svc = f.fault.affected[1].split("/", 1)[1]
    assert _mean_latency(f, svc)[w].mean() > 1.5 * _mean_latency(base, svc)[w].mean()


def test_memory_leak_ends_in_oomkill_and_restart() -> None:
    f, base = run_pair("memory_leak" + SPEC)
    pod = _pod(f)
    restarts_f = f.series("kube_pod_container_status_restarts_total", pod=pod)[:, 0]
    restarts_b = base.series("kube_pod_container_status_restarts_total", pod=pod)[:, 0]
    assert restarts_f[-1] >= restarts_b[-1] + 1
    assert np.all(restarts_b == restarts_b[0])
    first = int(np.argmax(restarts_f > restarts_f[0]))
    assert f.window()[first]
    mem = f.series("container_memory_working_set_bytes", pod=pod)[:, 0]
    limit = f.series("container_spec_memory_limit_bytes", pod=pod)[0, 0]
    assert mem[first - 1] > 0.8 * limit > mem[first]
    assert f.series("kube_pod_container_status_last_terminated_reason", pod=pod,
                    reason="OOMKilled")[first, 0] == 1.0
    cpu = f.series("container_cpu_usage_seconds_total", pod=pod)[:, 0]
    assert cpu[first] < cpu[first - 1]  # the container's counters restart from zero
    logs = [r["body"] for t in f.ticks for r in t.logs if "out of memory" in r["body"]]
    assert logs


def test_disk_pressure() -> None:
    f, base = run_pair("disk_pressure" + SPEC)
    node = f.fault.root_cause
    avail_f = f.series("node_filesystem_avail_bytes", node=node)[:, 0]
    avail_b = base.series("node_filesystem_avail_bytes", node=node)[:, 0]
    size = f.series("node_filesystem_size_bytes", node=node)[0, 0]
    w = f.window()
    assert avail_f[w].min() < 0.1 * size < avail_b.min()
    cond = f.series("kube_node_status_condition", node=node, condition="DiskPressure",
                    status="true")[:, 0]
    assert cond[w].max() == 1.0 and cond[~w].max() == 0.0


def test_network_delay_slows_the_caller() -> None:
    f, base = run_pair("network_delay" + SPEC + ":caller=frontend,callee=cartservice")
    w = _in(f)
    assert _mean_latency(f, "frontend")[w].mean() > _mean_latency(base, "frontend")[w].mean() + 0.1
    assert np.isclose(_mean_latency(f, "cartservice")[w].mean(),
                      _mean_latency(base, "cartservice")[w].mean(), rtol=0.05)
    client = [s["duration_ns"] for t, inside in zip(f.ticks, f.window(), strict=True) if inside
              for s in t.spans if s["kind"] == "CLIENT" and s["attributes"].get(
                  "net.peer.name") == "cartservice" and s["service"] == "frontend"]
    assert client and np.median(client) > 150e6


def test_packet_loss_raises_caller_errors() -> None:
    f, base = run_pair("packet_loss" + SPEC)
    w = _in(f)
    assert _err_ratio(f, "frontend")[w].mean() > _err_ratio(base, "frontend")[w].mean() + 0.05
    retrans_f = rate(f.series("node_netstat_Tcp_RetransSegs"))
    retrans_b = rate(base.series("node_netstat_Tcp_RetransSegs"))
    assert retrans_f[w].sum() > 5 * retrans_b[w].sum()
    errs = [s for t in f.ticks for s in t.spans if s["status_code"] == "ERROR"
            and "reset" in s["status_message"]]
    assert errs


def test_bad_deployment() -> None:
    f, base = run_pair("bad_deployment" + SPEC)
    svc = f.fault.root_cause.split("/", 1)[1]
    w = _in(f)
    assert _err_ratio(f, svc)[w].mean() > 0.2 > _err_ratio(base, svc)[w].mean()
    assert _err_ratio(f, "checkoutservice")[w].mean() > _err_ratio(base, "checkoutservice")[
        w].mean() + 0.1
    gen = f.series("kube_deployment_status_observed_generation", deployment=svc)[:, 0]
    assert gen[~f.window()][0] == 1 and gen[f.window()].max() == 2 and gen[-1] == 3
    err_logs = [r for t, inside in zip(f.ticks, f.window(), strict=True) if inside
                for r in t.logs if r["level"] == "ERROR" and r["labels"].get("app") == svc]
    base_logs = [r for t in base.ticks for r in t.logs if r["level"] == "ERROR"
                 and r["labels"].get("app") == svc]
    assert len(err_logs) > 5 * max(len(base_logs), 1)


def test_dependency_slowdown_cascades_to_callers() -> None:
    f, base = run_pair("dependency_slowdown" + SPEC)
    w = _in(f)
    for svc, factor in (("redis-cart", 10), ("cartservice", 2), ("frontend", 1.3)):
        assert _mean_latency(f, svc)[w].mean() > factor * _mean_latency(base, svc)[w].mean(), svc
    assert np.isclose(_mean_latency(f, "currencyservice")[w].mean(),
                      _mean_latency(base, "currencyservice")[w].mean(), rtol=0.05)


def _gpu(run: Run, field: str) -> np.ndarray:
    g = run.sim.gpu.gpus.index(next(x for x in run.sim.gpu.gpus
                                    if x.entity == run.fault.root_cause))
    return np.array([t.gpu_fields[field][g] for t in run.ticks])


def test_gpu_thermal_throttle() -> None:
    f, base = run_pair("gpu_thermal_throttle@+2m/8m", ticks=50)
    w = f.window()
    assert _gpu(f, "gpu_temp_c")[w].max() > 87 > _gpu(base, "gpu_temp_c").max()
    assert _gpu(f, "sm_clock_mhz")[w].min() < 0.9 * _gpu(base, "sm_clock_mhz")[w].min()
    assert _gpu(f, "thermal_violation_ns")[-1] > 0 == _gpu(base, "thermal_violation_ns")[-1]
    assert (_gpu(f, "clock_throttle_reasons")[w].astype(int) & 0x40).any()
    running_f = f.series("vllm:num_requests_running")[:, 0]
    running_b = base.series("vllm:num_requests_running")[:, 0]
    assert running_f[w][-8:].mean() > 1.25 * running_b[w][-8:].mean()  # slower GPU, longer queue


def test_gpu_xid_error_kills_the_workload() -> None:
    f, base = run_pair("gpu_xid_error" + SPEC)
    w = f.window()
    assert (_gpu(f, "xid_last")[w] == 43).all() and (_gpu(base, "xid_last") == 0).all()
    assert (_gpu(f, "gpu_util")[w] == 0).all() and (_gpu(base, "gpu_util")[w] > 0).all()
    assert _gpu(f, "fb_used_mib")[w].max() < 0.5 * _gpu(base, "fb_used_mib")[w].min()
    pod = next(a for a in f.fault.affected if a.startswith("POD:")).split("/", 1)[1]
    r = f.series("kube_pod_container_status_restarts_total", pod=pod)[:, 0]
    assert r[-1] == r[0] + 1
    ready = f.series("kube_pod_container_status_ready", pod=pod)[:, 0]
    assert (ready[w] == 0).all() and (ready[~w][:8] == 1).all()
    waiting = f.series("kube_pod_container_status_waiting_reason", pod=pod,
                       reason="CrashLoopBackOff")[:, 0]
    assert (waiting[w] == 1).all() and (base.series(
        "kube_pod_container_status_waiting_reason", pod=pod)[:, 0] == 0).all()
    assert any("NVRM: Xid" in r["body"] for t in f.ticks for r in t.logs)
    assert _err_ratio(f, "vllm")[_in(f)].mean() > 0.3


def test_gpu_ecc_dbe() -> None:
    f, base = run_pair("gpu_ecc_dbe" + SPEC)
    w = f.window()
    dbe = _gpu(f, "ecc_dbe_volatile_total")
    assert dbe[w].max() > 0 and (_gpu(base, "ecc_dbe_volatile_total") == 0).all()
    assert np.all(np.diff(dbe) >= 0)
    assert (_gpu(f, "xid_last")[w] == 48).all()
    assert _gpu(f, "retired_pages_dbe")[-1] == 1


def test_ptp_freerun_and_du_errors() -> None:
    f, base = run_pair("ptp_freerun@+2m/5m:holdover_s=60")
    w = f.window()
    state = f.series("openshift_ptp_clock_state")[:, 0]
    assert set(state[w].tolist()) == {0.0, 2.0} and (state[~w] == 1).all()
    assert (base.series("openshift_ptp_clock_state") == 1).all()
    first_free = int(np.argmax(state == 0))
    assert state[first_free - 1] == 2.0  # HOLDOVER before FREERUN
    cls = f.series("openshift_ptp_clock_class")[:, 0]
    assert cls[first_free] == 248 and cls[0] == 6
    off = np.abs(f.series("openshift_ptp_offset_ns", process="ptp4l")[:, 0])
    assert off[state == 0].min() > 1000 > 100 > np.abs(
        base.series("openshift_ptp_offset_ns", process="ptp4l")).max()
    assert _err_ratio(f, "du-app")[_in(f)].max() > 0.3 > _err_ratio(base, "du-app").max()
    assert any("FREERUN" in r["body"] for t in f.ticks for r in t.logs)


def test_cluster_dark() -> None:
    f, base = run_pair("cluster_dark" + SPEC)
    dark = np.array([t.dark for t in f.ticks])
    assert (dark == f.window()).all() and dark.any()
    assert not any(t.dark for t in base.ticks)


def test_every_catalogue_kind_is_tested() -> None:
    tested = {n.removeprefix("test_").split("_and")[0] for n in globals() if n.startswith("test_")}
    missing = [k for k in CATALOGUE if not any(t.startswith(k) for t in tested)]
    assert not missing


@pytest.mark.parametrize("kind", sorted(CATALOGUE))
def test_fault_leaves_other_clusters_alone(kind: str) -> None:
    from streams.simulator.engine import ClusterSim
    from streams.simulator.faults import parse_spec, resolve_all
    from streams.simulator.topology import build_fleet
    from tests.simulator.helpers import START_MS, STEP_MS

    fleet = build_fleet(4, 7)
    faults = resolve_all([parse_spec(kind + SPEC)], fleet, 7, START_MS)
    other = next(c for c in fleet if c.name != faults[0].cluster)
    a = ClusterSim(other, 7, START_MS, STEP_MS, faults)
    b = ClusterSim(other, 7, START_MS, STEP_MS, [])
    for k in range(12):
        assert np.array_equal(a.tick(k).values, b.tick(k).values)
