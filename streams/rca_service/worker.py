"""The RCA worker loop: aiops.incidents -> aiops.rca, one report per analysed version.

Per poll batch only the newest version of each incident is analysed; a version not newer
than the last one reported is skipped, and so is a RESOLVED version whose members are the
ones already analysed.  Offsets are committed after the reports are acknowledged, so a
crash replays: the report id (incident id + version) makes a replayed report collapse in
ClickHouse.  Failures are retried, then the incident record is dead-lettered.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message

from connectors.clickhouse.client import connect
from schemas.errors import CodecError
from streams.kafka.clients import make_consumer, make_producer
from streams.kafka.codecs import codec_for
from streams.logs_setup import get_logger
from streams.rca import rank
from streams.rca.explain import Explainer
from streams.rca_service import contexts, report
from streams.rca_service.history import HistoryReader
from streams.rca_service.telemetry import RcaTelemetry
from streams.settings import Settings

log = get_logger(__name__)
RETRIES = 3
REMEMBER = 100_000


@dataclass(frozen=True)
class RcaTopics:
    """Topics the worker reads and writes (the catalogue's by default)."""

    incidents: str = "aiops.incidents"
    rca: str = "aiops.rca"
    deadletter: str = "aiops.deadletter"


def _members(incident: dict[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(incident["anomaly_ids"]), frozenset(incident["alert_fingerprints"])


class RcaWorker:
    """Consumes incident versions and publishes ranked, explained reports."""

    def __init__(self, settings: Settings, bootstrap: str, clickhouse_url: str, *,
                 topics: RcaTopics | None = None, telemetry: RcaTelemetry | None = None,
                 explainer: Explainer | None = None, group: str | None = None) -> None:
        self.settings = settings
        self.topics = topics or RcaTopics()
        self.telemetry = telemetry or RcaTelemetry()
        self.explainer = explainer or Explainer.from_settings(settings)
        self.consumer = make_consumer(bootstrap, group or settings.rca_group, ready_check=True)
        self.producer = make_producer(bootstrap, **{"linger.ms": 5})
        self.client = connect(clickhouse_url, settings.clickhouse_database)
        self.reader = HistoryReader(self.client, settings.clickhouse_database)
        self.codecs = {n: codec_for(n, settings, t) for n, t in (
            ("incident", self.topics.incidents), ("rca_report", self.topics.rca),
            ("dead_letter", self.topics.deadletter))}
        self.done: OrderedDict[str, tuple[int, tuple[frozenset[str], frozenset[str]]]] = (
            OrderedDict())
        self._running = False

    # -- one incident -----------------------------------------------------------------------

    def analyse(self, incident: dict[str, Any]) -> dict[str, Any]:
        """Build the context, rank, explain: the ``RcaReport`` of this version."""
        started = time.perf_counter()
        built = contexts.build(incident, self.reader, self.settings.rca_lookback_s * 1000,
                               wait_s=self.settings.rca_history_wait_s)
        if built.missing_anomalies:
            self.telemetry.missing.inc(len(built.missing_anomalies))
            log.warning("members missing from history", incident=incident["incident_id"],
                        missing=len(built.missing_anomalies))
        ranked_at = time.perf_counter()
        causes = rank(built.context)
        explained_at = time.perf_counter()
        result = self.explainer.explain(causes, self.settings.rca_persona)
        done = time.perf_counter()
        for stage, seconds in (("history", ranked_at - started),
                               ("rank", explained_at - ranked_at),
                               ("explain", done - explained_at)):
            self.telemetry.seconds.labels(stage).observe(seconds)
        return report.build(incident, causes, result.report_fields(),
                            (done - started) * 1000.0)

    def wanted(self, incident: dict[str, Any]) -> str | None:
        """Why this version is skipped, or None when it should be analysed."""
        last = self.done.get(incident["incident_id"])
        if last is None:
            return None
        if int(incident["version"]) <= last[0]:
            return "stale"
        if incident["status"] == "RESOLVED" and _members(incident) == last[1]:
            return "unchanged"
        return None

    def _remember(self, incident: dict[str, Any]) -> None:
        self.done[incident["incident_id"]] = (int(incident["version"]), _members(incident))
        self.done.move_to_end(incident["incident_id"])
        while len(self.done) > REMEMBER:
            self.done.popitem(last=False)

    # -- the loop ---------------------------------------------------------------------------

    def _dead_letter(self, msg: Message, error: Exception | str, stage: str) -> None:
        record = {"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(),
                  "key": msg.key(), "error": str(error)[:2000],
                  "error_type": type(error).__name__ if isinstance(error, Exception)
                  else "Error", "stage": stage, "component": "rca", "raw": msg.value() or b"",
                  "ts": int(time.time() * 1000)}
        self.producer.produce(self.topics.deadletter, key=msg.topic().encode(),
                              value=self.codecs["dead_letter"].encode(record))
        self.telemetry.dead_letters.labels(stage).inc()
        log.warning("dead-lettered", topic=msg.topic(), offset=msg.offset(),
                    error=str(error)[:200])

    def _process(self, incident: dict[str, Any], msg: Message) -> None:
        for attempt in range(1, RETRIES + 1):
            try:
                rec = self.analyse(incident)
                value = self.codecs["rca_report"].encode(rec)
            except (CodecError, KeyError, ValueError, TypeError) as exc:
                self._dead_letter(msg, exc, "analyse")
                return
            except Exception as exc:  # noqa: BLE001 - ClickHouse/transport: retry, then DLQ
                self.telemetry.failures.inc()
                log.warning("analysis failed", incident=incident["incident_id"],
                            attempt=attempt, error=str(exc)[:200])
                if attempt == RETRIES:
                    self._dead_letter(msg, exc, "analyse")
                    return
                time.sleep(0.5 * 2 ** attempt)
                continue
            self.producer.produce(self.topics.rca, key=rec["incident_id"].encode(), value=value)
            self._remember(incident)
            self.telemetry.reports.labels(rec["provider"]).inc()
            top = rec["causes"][0] if rec["causes"] else {}
            log.info("rca report", report=rec["report_id"], causes=len(rec["causes"]),
                     top=f"{top.get('entity_type', '')}:{top.get('entity', '')}",
                     provider=rec["provider"], latency_ms=round(rec["latency_ms"], 1))
            return

    def handle_batch(self, messages: list[Message]) -> None:
        """Decode, keep the newest version per incident, analyse, publish."""
        newest: dict[str, tuple[dict[str, Any], Message]] = {}
        for msg in messages:
            try:
                incident = self.codecs["incident"].decode(msg.value() or b"")
            except CodecError as exc:
                self._dead_letter(msg, exc, "decode")
                continue
            iid = incident["incident_id"]
            if iid not in newest or incident["version"] > newest[iid][0]["version"]:
                if iid in newest:
                    self.telemetry.skipped.labels("superseded").inc()
                newest[iid] = (incident, msg)
            else:
                self.telemetry.skipped.labels("superseded").inc()
        for incident, msg in newest.values():
            reason = self.wanted(incident)
            if reason:
                self.telemetry.skipped.labels(reason).inc()
                continue
            self._process(incident, msg)

    def poll_once(self, max_messages: int = 200, timeout: float = 0.5) -> int:
        """One batch: consume, handle, flush, commit; the number of records handled."""
        first = self.consumer.poll(timeout)
        if first is None:
            return 0
        messages = []
        for msg in [first, *self.consumer.consume(max_messages - 1, timeout=0.0)]:
            err = msg.error()
            if err is None:
                messages.append(msg)
            elif err.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error", error=str(err))
        if not messages:
            return 0
        self.handle_batch(messages)
        if self.producer.flush(60) != 0:
            raise RuntimeError("reports not acknowledged by Kafka within 60 s")
        for msg in messages:
            self.consumer.store_offsets(msg)
        self.consumer.commit(asynchronous=False)
        return len(messages)

    def run(self) -> None:
        """Consume until :meth:`stop`."""
        self._running = True
        self.consumer.subscribe([self.topics.incidents])
        log.info("rca worker started", topic=self.topics.incidents,
                 llm=bool(self.explainer.chain and self.explainer.chain.entries))
        try:
            while self._running:
                self.poll_once()
        finally:
            self.close()

    def stop(self) -> None:
        self._running = False

    def close(self) -> None:
        self.consumer.close()
        self.producer.flush(30)
        self.client.close()
