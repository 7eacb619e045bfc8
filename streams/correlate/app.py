"""The ``aiops correlate`` Faust app: anomalies and alerts -> incidents.

Topology: two agents decode ``aiops.anomalies`` and ``aiops.alerts`` into members keyed by
cluster on the internal ``<app id>-members`` topic (alerts arrive keyed by fingerprint, so
they are re-keyed); one agent owns the per-cluster state (a table, changelogged) and
publishes incident versions to ``aiops.incidents``.  A timer sends ``tick`` members for
clusters with quiet incidents (tables are only written from a stream), and only while
this worker has read its input partitions to the end: after a restart or during a burst
the backlog may still hold activity for an incident that looks quiet.  Faust creates its
internal topics itself through the admin API (topic auto-creation may be off).

Delivery is at-least-once: replayed members are recognised by their ids, and incident ids
and versions are deterministic, so a republished version is identical and harmless.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from connectors.clickhouse.client import connect
from schemas.errors import CodecError
from streams.correlate import callgraph
from streams.correlate.engine import ClusterIncidents, LifecycleConfig
from streams.correlate.grouping import GroupingConfig
from streams.correlate.members import Member, from_alert, from_anomaly
from streams.correlate.telemetry import CorrelateTelemetry
from streams.kafka.codecs import codec_for
from streams.logs_setup import get_logger
from streams.settings import Settings

log = get_logger(__name__)



@dataclass(frozen=True)
class CorrelateTopics:
    """Topics the correlator reads and writes (the catalogue's by default)."""

    anomalies: str = "aiops.anomalies"
    alerts: str = "aiops.alerts"
    incidents: str = "aiops.incidents"
    deadletter: str = "aiops.deadletter"

_BAD = (CodecError, KeyError, ValueError, TypeError)


def broker_urls(bootstrap: str) -> list[str]:
    """``"h1:9092,h2:9092"`` -> ``["kafka://h1:9092", "kafka://h2:9092"]``."""
    return [h if "://" in h else f"kafka://{h}" for h in bootstrap.split(",") if h.strip()]


def _now_ms() -> int:
    return int(time.time() * 1000)


class Correlator:
    """Builds and holds the Faust app, its topics, table, agents and timers."""

    def __init__(self, settings: Settings, bootstrap: str, clickhouse_url: str | None = None,
                 telemetry: CorrelateTelemetry | None = None,
                 topics: CorrelateTopics | None = None) -> None:
        self.settings = s = settings
        t = topics or CorrelateTopics()
        self.clickhouse_url = clickhouse_url
        self.bootstrap = bootstrap
        self.telemetry = telemetry or CorrelateTelemetry()
        self.grouping = GroupingConfig(
            window_ms=int(s.correlate_window_s * 1000),
            keys=GroupingConfig.parse_keys(s.correlate_group_keys),
            call_graph=s.correlate_callgraph, open_severity=s.correlate_open_severity,
            open_signals=s.correlate_open_signals)
        self.lifecycle = LifecycleConfig(
            quiet_ms=int(s.correlate_quiet_s * 1000),
            retain_resolved_ms=int(s.correlate_retain_resolved_s * 1000),
            max_members=s.correlate_max_members,
            escalate_entities=s.correlate_escalate_entities)
        self.graph = callgraph.CallGraph()
        self._cache: dict[bytes, tuple[Any, ClusterIncidents]] = {}
        self.codecs = {n: codec_for(n, s, t) for n, t in (
            ("anomaly", t.anomalies), ("alert", t.alerts), ("incident", t.incidents),
            ("dead_letter", t.deadletter))}
        self.app = faust.App(
            s.correlate_app_id, broker=broker_urls(bootstrap), store="memory://",
            datadir=str(s.data_dir / "correlate" / s.correlate_app_id),
            topic_partitions=s.correlate_partitions,
            topic_replication_factor=s.correlate_topic_replication,
            table_standby_replicas=0, web_enabled=False, autodiscover=False,
            consumer_auto_offset_reset="earliest", producer_acks=-1,
            broker_commit_interval=1.0, topic_allow_declare=True,
            broker_session_timeout=10.0, broker_heartbeat_interval=3.0,
        )
        raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
               "value_serializer": "raw"}
        self.anomalies = self.app.topic(t.anomalies, **raw)
        self.alerts = self.app.topic(t.alerts, **raw)
        self.incidents = self.app.topic(t.incidents, **raw)
        self.deadletter = self.app.topic(t.deadletter, **raw)
        self.members = self.app.topic(
            f"{s.correlate_app_id}-members", key_type=bytes, key_serializer="raw",
            value_serializer="json", partitions=s.correlate_partitions, internal=True,
            retention=7 * 24 * 3600.0)
        # Keys are the raw cluster bytes (the member topic's key), values JSON state.
        self.table = self.app.Table("clusters", default=None, partitions=s.correlate_partitions,
                                    key_type=bytes)
        self._wire()

    # -- plumbing ---------------------------------------------------------------------------

    def _wire(self) -> None:
        app = self.app
        app.agent(self.anomalies, name="decode-anomalies")(self._decode_anomalies)
        app.agent(self.alerts, name="decode-alerts")(self._decode_alerts)
        app.agent(self.members, name="correlate")(self._correlate)
        app.timer(self.settings.correlate_tick_s)(self._tick_timer)
        if self.settings.correlate_callgraph and self.clickhouse_url:
            app.timer(self.settings.correlate_callgraph_refresh_s)(self._load_graph)

    async def _dead_letter(self, event: Any, exc: Exception, stage: str) -> None:
        msg = event.message
        record = {"topic": msg.topic, "partition": msg.partition, "offset": msg.offset,
                  "key": msg.key, "error": str(exc)[:2000], "error_type": type(exc).__name__,
                  "stage": stage, "component": "correlate", "raw": msg.value or b"",
                  "ts": _now_ms()}
        await self.deadletter.send(key=msg.topic.encode(),
                                   value=self.codecs["dead_letter"].encode(record))
        self.telemetry.dead_letters.labels(msg.topic).inc()
        log.warning("dead-lettered", topic=msg.topic, partition=msg.partition,
                    offset=msg.offset, error=str(exc)[:200])

    async def _forward(self, stream: Any, codec: str, build: Any) -> None:
        async for event in stream.events():
            try:
                member = build(self.codecs[codec].decode(event.value))
            except _BAD as exc:
                await self._dead_letter(event, exc, "decode")
                continue
            self.telemetry.members.labels(member.kind).inc()
            await self.members.send(key=member.cluster.encode(), value=member.to_dict())

    async def _decode_anomalies(self, stream: Any) -> None:
        await self._forward(stream, "anomaly", from_anomaly)

    async def _decode_alerts(self, stream: Any) -> None:
        await self._forward(stream, "alert", from_alert)

    async def _correlate(self, stream: Any) -> None:
        async for event in stream.events():
            key = bytes(event.key or b"")
            value = event.value or {}
            state = self._state(key)
            try:
                if "tick" in value:
                    records = state.tick(int(value["tick"]), self.lifecycle)
                else:
                    records = state.handle(Member.from_dict(value), _now_ms(), self.grouping,
                                           self.lifecycle, self.graph)
            except (*_BAD, AttributeError) as exc:  # a malformed member: never stall the stream
                await self._dead_letter(event, exc, "correlate")
                continue
            if records or "tick" in value:
                # A member that changed nothing (a replay, a repeat) only moved the activity
                # time of the live state; it is not worth a changelog write.
                stored = state.to_dict()
                self.table[key] = stored
                self._cache[key] = (stored, state)
            for rec in records:
                await self.incidents.send(key=rec["incident_id"].encode(),
                                          value=self.codecs["incident"].encode(rec))
                self.telemetry.published.labels(rec["status"]).inc()
                log.info("incident", id=rec["incident_id"], status=rec["status"],
                         version=rec["version"], severity=rec["severity"],
                         members=len(rec["anomaly_ids"]) + len(rec["alert_fingerprints"]))

    def _state(self, key: bytes) -> ClusterIncidents:
        """The cluster's state: the live object while the table still holds what this
        worker last stored (after a rebalance or recovery it is read from the table)."""
        stored = self.table.get(key)
        cached = self._cache.get(key)
        if cached is not None and cached[0] is stored:
            return cached[1]
        return ClusterIncidents.from_dict(stored)

    async def _tick_timer(self) -> None:
        if await self._behind():
            self.telemetry.ticks_deferred.inc()
            return
        now = _now_ms()
        open_count = 0
        for key in list(self.table.keys()):
            state = self._state(bytes(key))
            open_count += len(state.open_incidents())
            if state.due(now, self.lifecycle):
                await self.members.send(key=bytes(key), value={"tick": now})
        self.telemetry.open_incidents.set(open_count)

    async def _behind(self) -> bool:
        """Whether an assigned input partition (anomalies, alerts, members) has records
        this worker has not fetched yet (or an end offset it does not know yet)."""
        consumer = self.app.consumer
        inputs = {self.anomalies.get_topic_name(), self.alerts.get_topic_name(),
                  self.members.get_topic_name()}
        try:
            for tp in consumer.assignment():
                if tp.topic not in inputs:
                    continue
                end = consumer.highwater(tp)
                position = await consumer.position(tp)
                if end is None or position is None or position < end:
                    return True
        except Exception as exc:  # noqa: BLE001 - mid-rebalance: ask again next tick
            log.debug("input positions unknown", error=str(exc)[:200])
            return True
        return False

    async def _load_graph(self) -> None:
        try:
            self.graph = await asyncio.get_running_loop().run_in_executor(None, self._query_graph)
        except Exception as exc:  # noqa: BLE001 - keep the last graph, retry next time
            self.telemetry.graph_failures.inc()
            log.warning("call graph reload failed", error=str(exc)[:200])
        else:
            self.telemetry.graph_edges.set(len(self.graph))

    def _query_graph(self) -> callgraph.CallGraph:
        client = connect(self.clickhouse_url or "", self.settings.clickhouse_database)
        try:
            return callgraph.load(client, self.settings.clickhouse_database,
                                  self.settings.correlate_callgraph_window_s)
        finally:
            client.close()

    def internal_topics(self) -> list[NewTopic]:
        """Faust's own topics: the member topic, the table changelog, the leader topic."""
        s = self.settings
        n, r = s.correlate_partitions, s.correlate_topic_replication
        week = str(7 * 24 * 3600 * 1000)
        return [
            NewTopic(self.members.get_topic_name(), n, r, config={"retention.ms": week}),
            NewTopic(self.table.changelog_topic.get_topic_name(), n, r,
                     config={"cleanup.policy": "compact"}),
            NewTopic(f"{s.correlate_app_id}-__assignor-__leader", 1, r,
                     config={"cleanup.policy": "compact"}),
        ]

    def ensure_topics(self, bootstrap: str, timeout: float = 30.0) -> None:
        """Create the internal topics before the worker subscribes.

        Faust would create them itself through the admin API, but only after its consumer
        fetched metadata: a topic created then is not assigned until the next metadata
        refresh (minutes), so they must exist first.
        """
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for name, future in admin.create_topics(self.internal_topics()).items():
            try:
                future.result(timeout)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
                log.debug("topic exists", topic=name)

    def run(self, loglevel: str = "INFO") -> None:
        """Create the internal topics, then run the Faust worker until SIGTERM/SIGINT."""
        from faust.worker import Worker

        self.ensure_topics(self.bootstrap)
        if self.settings.correlate_callgraph and self.clickhouse_url:
            asyncio.run(self._load_graph())  # before the first member is grouped
        Path(self.app.conf.datadir).mkdir(parents=True, exist_ok=True)
        worker = Worker(self.app, loglevel=loglevel, quiet=True, override_logging=False)
        worker.execute_from_commandline()
