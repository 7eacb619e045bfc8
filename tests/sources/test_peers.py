"""Scrapes against real node-exporter, pushgateway and Prometheus, published to real Kafka."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import httpx
import pytest

from connectors.publish.kafka import KafkaPublisher
from connectors.sources.cnf import CnfSource
from connectors.sources.config import GlobalConfig, JobConfig
from connectors.sources.discovery import Target
from connectors.sources.prometheus import PrometheusSource
from connectors.sources.query import QueryApiSource
from schemas.series import series_id
from streams.kafka import admin
from streams.scrape.metrics import ScrapeMetrics
from streams.stack.ports import free_port
from tests.conftest import RunningStack
from tests.sources import peers
from tests.sources.kafka_read import read_records, samples

pytestmark = pytest.mark.stack

PTP_PUSH = """# TYPE node_ptp_offset_ns gauge
node_ptp_offset_ns{from="phc",iface="ens1f0",node="worker-0",process="ptp4l"} 999999
# TYPE node_ptp_clock_state gauge
node_ptp_clock_state{iface="ens1f0",node="worker-0",process="ptp4l"} 1
# TYPE openshift_ptp_delay_ns gauge
openshift_ptp_delay_ns{from="master",iface="ens1f0",node="worker-0",process="ptp4l"} 120
# TYPE sriov_vf_rx_bytes counter
sriov_vf_rx_bytes{pf="ens2f0",vf="1",node="worker-0"} 12345
# TYPE unrelated_metric gauge
unrelated_metric 7
"""


@pytest.fixture(scope="module")
def peers_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    work = tmp_path_factory.mktemp("peers")
    with peers.node_exporter(work) as node, peers.pushgateway(work) as push:
        resp = httpx.put(f"http://{push}/metrics/job/ptp-daemon", content=PTP_PUSH)
        assert resp.status_code == 200, resp.text
        with peers.prometheus(work, {"node": node, "pushgw": push}) as prom:
            peers.wait_for_series(prom, "node_ptp_offset_ns")
            peers.wait_for_series(prom, "node_cpu_seconds_total")
            yield {"node": node, "pushgateway": push, "prometheus": prom}


@pytest.fixture(scope="module")
def publisher(stack: RunningStack) -> Iterator[KafkaPublisher]:
    admin.apply(stack.bootstrap)
    pub = KafkaPublisher(stack.bootstrap)
    yield pub
    pub.close()


def make(cls, job: JobConfig, cluster: str, pub: KafkaPublisher, metrics=None):
    return cls(job, GlobalConfig(scrape_interval="5s", scrape_timeout="5s"), cluster, pub,
               metrics)


def scrape(src, *targets: Target) -> list:
    """Scrape each target in turn on one event loop, then close the source."""
    async def run() -> list:
        try:
            return [await src.scrape(t) for t in targets]
        finally:
            await src.stop()
    return asyncio.run(run())


def target(job: str, address: str) -> Target:
    return Target(job, address, {"job": job, "instance": address})


def test_node_exporter_scrape(stack, peers_up, publisher, unique) -> None:
    cluster = f"c-{unique}"
    metrics = ScrapeMetrics()
    src = make(PrometheusSource, JobConfig(job_name="node"), cluster, publisher, metrics)
    tgt = target("node", peers_up["node"])
    first, second = scrape(src, tgt, tgt)
    assert first.up and first.samples > 50 and first.error is None
    assert second.samples == first.samples
    assert publisher.flush(30) == 0
    batches = read_records(stack.bootstrap, "aiops.metrics", "metric_batch", cluster,
                           min_count=2)
    assert len(batches) == 2 and {b["source"] for b in batches} == {"prometheus"}
    rows = samples(batches[:1])
    cpu = [r for r in rows if r[0] == "node_cpu_seconds_total"]
    assert cpu and all(r[1]["job"] == "node" and r[1]["instance"] == tgt.address for r in cpu)
    assert all(r[3] == series_id(cluster, r[0], r[1]) for r in rows)
    by_name = {r[0]: r[2] for r in rows}
    assert by_name["up"] == 1.0 and by_name["scrape_samples_scraped"] == first.samples
    assert by_name["scrape_series_added"] == first.samples
    assert {r[0]: r[2] for r in samples(batches[1:])}["scrape_series_added"] == 0
    assert metrics.scraped.labels("prometheus", "node")._value.get() == 2 * first.samples


def test_pushgateway_honor_labels(stack, peers_up, publisher, unique) -> None:
    results = {}
    for honor in (False, True):
        cluster = f"c-{unique}-{honor}"
        src = make(PrometheusSource, JobConfig(job_name="pgw", honor_labels=honor), cluster,
                   publisher)
        assert scrape(src, target("pgw", peers_up["pushgateway"]))[0].up
        assert publisher.flush(30) == 0
        rows = samples(read_records(stack.bootstrap, "aiops.metrics", "metric_batch", cluster))
        results[honor] = next(r[1] for r in rows if r[0] == "node_ptp_clock_state")
    assert results[False]["job"] == "pgw" and results[False]["exported_job"] == "ptp-daemon"
    assert results[True]["job"] == "ptp-daemon" and "exported_job" not in results[True]


def test_failed_scrape_publishes_up_zero(stack, publisher, unique) -> None:
    cluster = f"c-{unique}"
    metrics = ScrapeMetrics()
    src = make(PrometheusSource, JobConfig(job_name="gone"), cluster, publisher, metrics)
    (out,) = scrape(src, target("gone", f"127.0.0.1:{free_port()}"))
    assert not out.up and "connect" in out.error
    assert publisher.flush(30) == 0
    rows = samples(read_records(stack.bootstrap, "aiops.metrics", "metric_batch", cluster))
    assert {r[0]: r[2] for r in rows}["up"] == 0.0
    assert metrics.errors.labels("prometheus", "gone", "connect")._value.get() == 1


def test_cnf_curated_federation_through_prometheus(stack, peers_up, publisher, unique) -> None:
    cluster = f"c-{unique}"
    src = make(CnfSource, JobConfig(job_name="cnf", source="cnf", honor_labels=True), cluster,
               publisher)
    (out,) = scrape(src, target("cnf", peers_up["prometheus"]))
    assert out.up, out.error
    assert {"ptp", "sriov", "prometheus"} <= out.capabilities
    assert publisher.flush(30) == 0
    rows = samples(read_records(stack.bootstrap, "aiops.metrics", "metric_batch", cluster))
    names = {r[0] for r in rows}
    assert "unrelated_metric" not in names and "node_cpu_seconds_total" not in names
    assert not any(n.startswith("node_ptp_") for n in names)  # aliased
    offset = next(r for r in rows if r[0] == "openshift_ptp_offset_ns")
    assert math.isnan(offset[2])  # the 999999 faulty-port sentinel is not a reading
    marker = next(r for r in rows if r[0] == "aiops_ptp_faulty_port")
    assert marker[2] == 1.0 and marker[1]["metric"] == "openshift_ptp_offset_ns"
    assert next(r for r in rows if r[0] == "openshift_ptp_clock_state")[2] == 1.0
    assert next(r for r in rows if r[0] == "openshift_ptp_delay_ns")[2] == 120.0


def test_query_api_pull(stack, peers_up, publisher, unique) -> None:
    cluster = f"c-{unique}"
    job = JobConfig(job_name="curated", source="query", honor_labels=True, queries=[
        {"record": "cluster:node_cpus:count", "expr": "count(node_cpu_seconds_total{mode='idle'})"},
        {"record": "job:up", "expr": "up"},
    ])
    (out,) = scrape(make(QueryApiSource, job, cluster, publisher),
                    target("curated", peers_up["prometheus"]))
    assert out.up, out.error
    assert publisher.flush(30) == 0
    rows = samples(read_records(stack.bootstrap, "aiops.metrics", "metric_batch", cluster))
    cpus = next(r for r in rows if r[0] == "cluster:node_cpus:count")
    assert cpus[2] >= 1
    ups = [r for r in rows if r[0] == "job:up"]
    assert {r[1]["job"] for r in ups} == {"node", "pushgw"}  # Prometheus' own labels kept
    bad = JobConfig(job_name="bad", source="query", queries=[{"record": "x", "expr": "sum("}])
    (failed,) = scrape(make(QueryApiSource, bad, cluster, publisher),
                       target("bad", peers_up["prometheus"]))
    assert not failed.up and "HTTP 400" in failed.error


def test_federate_match_selectors(stack, peers_up, publisher, unique) -> None:
    cluster = f"c-{unique}"
    job = JobConfig(job_name="fed", source="federate", metrics_path="/federate",
                    honor_labels=True, params={"match[]": ['{__name__="node_load1"}',
                                                           '{__name__=~"up"}']})
    (out,) = scrape(make(PrometheusSource, job, cluster, publisher),
                    target("fed", peers_up["prometheus"]))
    assert out.up, out.error
    assert "prometheus" in out.capabilities
    assert publisher.flush(30) == 0
    (batch,) = read_records(stack.bootstrap, "aiops.metrics", "metric_batch", cluster)
    assert batch["source"] == "federate"
    rows = list(zip(batch["names"], batch["labels"], batch["timestamps"], strict=True))
    load = [r for r in rows if r[0] == "node_load1"]
    assert len(load) == 1 and load[0][1]["job"] == "node"
    assert load[0][1]["instance"] == peers_up["node"]  # Prometheus' labels are honoured
    assert load[0][2] != batch["scrape_ts"]  # federation carries Prometheus' sample times
    assert {r[1]["job"] for r in rows if r[0] == "up" and r[1]["job"] != "fed"} == {
        "node", "pushgw"}
