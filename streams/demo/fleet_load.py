"""A private stack loaded with a short seeded fleet run, through the real pipeline.

The same path as ``python -m streams.demo``: ``aiops up`` (local stack + the sink, detect,
correlate and rca workers under the supervisor), the simulator in direct mode with a fault
schedule at accelerated time, then a wait until every consumer group has caught up. One
undecodable record is published to ``aiops.metrics`` as a misbehaving producer would, so the
dead-letter path (sink and detect -> ``aiops.deadletter`` -> ``dead_letters``) carries data too.
The simulated clock ends at the moment the run started, so the data sits in the last minutes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from connectors.clickhouse.client import connect
from streams.demo.__main__ import DEMO_ENV
from streams.demo.scenario import Scenario, ScenarioRun
from streams.kafka.clients import make_producer
from streams.logs_setup import get_logger
from streams.settings import Settings
from streams.stack.manager import LocalStack
from streams.supervisor import control

log = get_logger(__name__)

COMPONENTS = frozenset({"sink", "detect", "correlate", "rca"})
# Every fault family the dashboards show: a shop pod (services, logs), a GPU (GPU fleet) and
# a PTP clock (CNF timing), each raising its alert, anomalies, an incident and an RCA report.
DEFAULT_SCHEDULE = ("cpu_saturation@+1m/4m", "gpu_thermal_throttle@+1m/4m",
                    "ptp_freerun@+2m/3m", "bad_deployment@+2m/3m")
# What a misconfigured producer sends: JSON where the topic carries Avro MetricBatches.
CORRUPT_RECORD = b'{"metric": "up", "cluster": "hub-000", "value": 1}'


@dataclass(frozen=True)
class LoadSpec:
    """What to simulate: clusters, seed, the fault schedule (specs) and pacing."""

    clusters: int = 4
    seed: int = 7
    schedule: list[str] | tuple[str, ...] = DEFAULT_SCHEDULE
    warmup: str = "6m"  # the demo's detectors learn for 5 simulated minutes
    tail: str = "2m"
    speed: float = 30.0
    corrupt_records: int = 1

    def scenario(self, directory: Path) -> Scenario:
        """The demo scenario for this spec (its schedule written as YAML in ``directory``)."""
        path = directory / "schedule.yaml"
        path.write_text(yaml.safe_dump(list(self.schedule)))
        return Scenario(clusters=self.clusters, seed=self.seed, schedule=str(path),
                        warmup=self.warmup, tail=self.tail, speed=self.speed)


@dataclass
class FleetLoad:
    """Where the loaded data lives and what the run produced."""

    clickhouse_url: str
    database: str
    bootstrap: str
    start_ms: int
    end_ms: int
    samples: int
    behind: dict[str, int] = field(default_factory=dict)  # groups not caught up (empty: all)
    wall_s: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step

    def client(self):  # noqa: ANN201 - clickhouse_connect's Client
        """A client on the loaded database."""
        return connect(self.clickhouse_url, self.database)


def _publish_corrupt(bootstrap: str, count: int) -> None:
    producer = make_producer(bootstrap)
    for i in range(count):
        producer.produce("aiops.metrics", key=f"corrupt/{i}".encode(), value=CORRUPT_RECORD)
    if producer.flush(30):
        raise RuntimeError("could not publish the corrupt record(s) within 30s")


def _wait_rows(load: FleetLoad, tables: tuple[str, ...], timeout: float) -> list[str]:
    """Wait until each table has rows (workers that act on quiet time lag the consumers)."""
    client = load.client()
    deadline = time.monotonic() + timeout
    empty = list(tables)
    while empty and time.monotonic() < deadline:
        empty = [t for t in empty if not client.query(f"SELECT count() FROM {t}").first_row[0]]
        if empty:
            time.sleep(2.0)
    return empty


def _refuse_leaking_env(settings: Settings) -> None:
    """The workers inherit this process's environment: an external address there would win."""
    for name, ours in (("AIOPS_KAFKA_BOOTSTRAP", settings.kafka_bootstrap),
                       ("AIOPS_CLICKHOUSE_URL", settings.clickhouse_url)):
        theirs = os.environ.get(name)
        if theirs and theirs != ours:
            raise ValueError(f"{name}={theirs} is set in the environment but the load runs on "
                             f"{ours or 'the local stack'}: unset it")


@contextmanager
def loaded_fleet(settings: Settings, spec: LoadSpec | None = None,
                 drain_timeout: float = 180.0) -> Iterator[FleetLoad]:
    """Bring a private pipeline up on ``settings`` (its own data dir), load it, yield, stop all.

    ``settings`` must point at a data dir no other stack uses (ports 0 pick free ones).
    """
    spec = spec or LoadSpec()
    _refuse_leaking_env(settings)
    started = time.monotonic()
    marks = {"start": started}
    try:
        control.up(settings, free_ports=True, only=set(COMPONENTS), extra_env=DEMO_ENV,
                   timeout=180)
        pending = control.wait_healthy(settings, timeout=120)
        if pending:
            raise RuntimeError(f"pipeline components not healthy: {pending}")
        marks["up"] = time.monotonic()
        local = LocalStack(settings)
        bootstrap, url = local.kafka_bootstrap(), local.clickhouse_url()
        work = Path(settings.data_dir) / "fleet-load"
        work.mkdir(parents=True, exist_ok=True)
        run = ScenarioRun(spec.scenario(work), bootstrap, work / "groundtruth.jsonl").start()
        stats = run.join()
        marks["simulate"] = time.monotonic()
        _publish_corrupt(bootstrap, spec.corrupt_records)
        control.wait_drained(settings, timeout=drain_timeout)
        marks["drain"] = time.monotonic()
        load = FleetLoad(url, settings.clickhouse_database, bootstrap, run.start_ms,
                         run.end_ms, int(stats.get("samples", 0)) + int(
                             stats.get("gpu_samples", 0)))
        expected = ("incidents", "rca_reports") + (("dead_letters",) if spec.corrupt_records
                                                   else ())
        still_empty = _wait_rows(load, expected, timeout=drain_timeout)
        if still_empty:
            log.warning("tables still empty after the run", tables=still_empty)
        marks["results"] = time.monotonic()
        # The RCA reports those incidents produced go through the sink too: drain again.
        load.behind = control.wait_drained(settings, timeout=drain_timeout)
        marks["final_drain"] = time.monotonic()
        load.wall_s = round(time.monotonic() - started, 1)
        steps = list(marks.items())
        load.phases = {name: round(t - steps[i - 1][1], 1)
                       for i, (name, t) in enumerate(steps) if i}
        log.info("fleet loaded", samples=load.samples, wall_s=load.wall_s, behind=load.behind,
                 **load.phases)
        yield load
    finally:
        control.down(settings)
