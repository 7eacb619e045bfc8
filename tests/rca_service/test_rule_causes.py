"""Rule anomalies as the detect worker emits them (GPU XID, PTP clock state) are ranked as
the root cause once read back from ClickHouse: rule breaches carry no z-score and PTP
clocks are ``PTP_CLOCK`` entities there, unlike the offline harness's series."""

from __future__ import annotations

import time
from typing import Any

import pytest

from connectors.clickhouse.client import connect
from schemas.codec import Codec
from schemas.series import series_id
from streams.detect import anomalies
from streams.detect.gpu_stage import GpuStage
from streams.detect.rules_cnf import CnfRules, rule_code
from streams.rca.ranking import rank
from streams.rca_service import contexts
from streams.rca_service.history import HistoryReader
from tests.correlate.scenario import history_database
from tests.rca_service.data import incident, insert_anomalies

pytestmark = pytest.mark.stack

T0 = int(time.time() * 1000) // 60_000 * 60_000 - 3_600_000
GPU_CODEC = Codec("gpu_batch")


def _gpu_xid(cluster: str) -> list[dict[str, Any]]:
    """The GPU stage's anomalies when the GPU of ``worker-1`` reports XID 79."""
    def batch(ts: int, xid: float) -> bytes:
        s = {"ts": ts, "node": "worker-1", "gpu": 0, "uuid": "GPU-7f3a", "model": "A100",
             "pod": "vllm-0", "namespace": "llm", "container": "vllm", "extra": {},
             "gpu_util": 60.0, "xid_last": xid}
        return GPU_CODEC.encode({"batch_id": str(ts), "cluster": cluster, "source": "dcgm",
                                 "node": "worker-1", "scrape_ts": ts, "samples": [s]})

    stage = GpuStage()
    assert stage.process([batch(T0 - 15_000, 0.0)]).anomalies == []
    return stage.process([batch(T0, 79.0)]).anomalies


def _metric(cluster: str, name: str, labels: dict[str, str], z: float, ts: int
            ) -> dict[str, Any]:
    """A model anomaly on a plain series, entity from its labels."""
    return anomalies.build(cluster=cluster, name=name, labels=labels,
                           series_id=series_id(cluster, name, labels), kind="SPIKE",
                           actual=z, expected=0.0, lower=-1.0, upper=1.0, z=z, z_on=4.0,
                           detector="metric", start_ts=ts, sample_ts=ts)


def _ptp_freerun(cluster: str) -> list[dict[str, Any]]:
    """The metric stage's clock-state rule anomaly: ``sno-0/ens1f0`` falls to FREERUN."""
    name = "openshift_ptp_clock_state"
    labels = {"node": "sno-0", "iface": "ens1f0", "process": "ptp4l"}
    sid = series_id(cluster, name, labels)
    rules = CnfRules()
    assert rules.check(sid, rule_code(name), 1.0, T0 - 15_000) == []
    (b,) = rules.check(sid, rule_code(name), 0.0, T0)
    return [anomalies.build(
        cluster=cluster, name=name, labels=labels, series_id=sid, kind="THRESHOLD_BREACH",
        actual=0.0, expected=b.threshold, lower=b.threshold, upper=b.threshold, z=0.0,
        z_on=0.0, detector=b.detector, start_ts=b.start_ts, sample_ts=T0, rule=b.rule,
        severity=b.severity)]


def _causes(stack: Any, unique: str, tmp_path: Any, members: list[dict[str, Any]]
            ) -> list[dict[str, Any]]:
    database = f"rcarule_{unique}"
    history_database(stack.clickhouse_url, database, tmp_path / "migrations")
    client = connect(stack.clickhouse_url)
    try:
        insert_anomalies(client, database, members)
        built = contexts.build(incident(members[0]["cluster"], "inc", 1, members),
                               HistoryReader(client, database), lookback_ms=600_000)
    finally:
        client.close()
    assert built.missing_anomalies == []
    return rank(built.context)


def test_gpu_xid_rule_is_the_root_cause(stack, unique, tmp_path) -> None:
    cluster = "spoke-1"
    xid = _gpu_xid(cluster)
    assert [(a["entity_type"], a["entity"], a["score"]) for a in xid] == [
        ("GPU", "worker-1/GPU-7f3a", 0.0)]
    node = {"node": "worker-1", "instance": "worker-1:9100"}
    members = xid + [
        _metric(cluster, "node_cpu_utilisation", node, 400.0, T0 + 15_000),
        _metric(cluster, "kube_pod_container_status_restarts_total",
                {"namespace": "llm", "pod": "vllm-0", "node": "worker-1"}, 20.0, T0 + 30_000)]
    top = _causes(stack, unique, tmp_path, members)[0]
    assert (top["entity_type"], top["entity"], top["pattern"]) == (
        "GPU", "worker-1/GPU-7f3a", "gpu_xid_crash")


def test_ptp_clock_state_rule_is_the_root_cause(stack, unique, tmp_path) -> None:
    cluster = "faredge-3"
    ptp = _ptp_freerun(cluster)
    assert [(a["entity_type"], a["entity"]) for a in ptp] == [("PTP_CLOCK", "sno-0/ens1f0")]
    members = ptp + [
        _metric(cluster, "node_netstat_Tcp_RetransSegs", {"node": "sno-0"}, 150.0, T0),
        _metric(cluster, "node_cpu_utilisation", {"node": "sno-0"}, 100.0, T0 + 15_000)]
    top = _causes(stack, unique, tmp_path, members)[0]
    assert (top["entity_type"], top["entity"]) == ("PTP_CLOCK", "sno-0/ens1f0")


def test_deployment_rollout_is_attributed_to_its_deployment(stack, unique, tmp_path) -> None:
    """The rollout series (kube-state labels: namespace, deployment) is the deployment's
    change, not the cluster's; the pattern then blames it and its service follows."""
    cluster = "edge-2"
    rollout = _metric(cluster, "kube_deployment_status_observed_generation",
                      {"namespace": "boutique", "deployment": "paymentservice"}, 1e6, T0)
    assert (rollout["entity_type"], rollout["entity"]) == (
        "DEPLOYMENT", "boutique/paymentservice")
    members = [rollout,
               _metric(cluster, "aiops_red_error_ratio",
                       {"namespace": "boutique", "service": "paymentservice"}, 1e6, T0 + 150_000),
               anomalies.build(  # as the log stage reports a caller's error burst
                   cluster=cluster, name="log_template_lines",
                   labels={"namespace": "boutique", "pod": "frontend-x96dg", "app": "frontend",
                           "template_id": "error"}, series_id=0, kind="SPIKE", actual=40.0,
                   expected=2.0, lower=2.0, upper=2.0, z=6.8, z_on=4.0,
                   detector="log_error_burst", start_ts=T0 + 150_000, sample_ts=T0 + 150_000,
                   severity="MEDIUM")]
    causes = _causes(stack, unique, tmp_path, members)
    assert (causes[0]["entity_type"], causes[0]["entity"], causes[0]["pattern"]) == (
        "DEPLOYMENT", "boutique/paymentservice", "deployment_change_errors")
    assert "SERVICE:boutique/paymentservice" in [
        f"{c['entity_type']}:{c['entity']}" for c in causes[:3]]
