"""The notifier: consume incidents, RCA reports and high-severity anomalies; route; deliver.

Durability: new deliveries are written PENDING to ClickHouse *before* the input offsets
are committed, and each delivery's idempotency key is checked against ClickHouse before
it is queued. After a crash the worker reloads PENDING deliveries (with their attempt
counts) and replays uncommitted input, which maps to keys it already has: nothing is
lost and nothing is sent twice. The residual window (a 2xx received but the DELIVERED
row not yet written) re-sends with the same ``Idempotency-Key`` header.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from threading import Event
from typing import Any

import httpx

from connectors.clickhouse.client import connect
from connectors.notify import alertmanager_api, payloads
from connectors.notify.alertmanager_api import OpenAlerts
from connectors.notify.delivery import AttemptResult, CircuitBreaker, RetryPolicy, post
from connectors.notify.delivery_log import Delivery, DeliveryLog, now_ms
from connectors.notify.notification import (
    Notification,
    from_anomaly,
    from_incident,
    from_rca,
    severity_rank,
)
from connectors.notify.routing import Endpoint, RoutingConfig, RoutingError
from connectors.notify.routing_store import read_routes
from schemas.codec import Codec
from schemas.errors import CodecError
from streams.kafka.clients import make_consumer, make_producer
from streams.logs_setup import get_logger
from streams.notify.context import IncidentContext
from streams.notify.schedule import Schedule
from streams.notify.telemetry import NotifyTelemetry

log = get_logger("aiops.notify")
INPUTS = {"aiops.incidents": "incident", "aiops.rca": "rca_report",
          "aiops.anomalies": "anomaly"}
DLQ_TOPIC = "aiops.deadletter"
SEND_ROUND = 20  # deliveries per endpoint sent before their outcomes are written


@dataclass(frozen=True)
class NotifyConfig:
    """Knobs of the worker (from settings)."""

    group: str = "aiops-notify"
    routes_path: Path | None = None
    api_base_url: str = ""
    anomaly_min_severity: str = "HIGH"
    retry: RetryPolicy = RetryPolicy()
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0
    am_refresh_s: float = 60.0
    routes_reload_s: float = 30.0
    worker_id: str = "notify"
    dlq_topic: str = DLQ_TOPIC


class NotifyWorker:
    """One notifier process; ``run()`` until ``stop()``."""

    def __init__(self, bootstrap: str, clickhouse_url: str, database: str,
                 config: NotifyConfig, telemetry: NotifyTelemetry | None = None,
                 inputs: dict[str, str] | None = None) -> None:
        self.config = config
        self.inputs = inputs or INPUTS
        self.telemetry = telemetry or NotifyTelemetry()
        client = connect(clickhouse_url)
        self.log = DeliveryLog(client, database, config.worker_id)
        self.client, self.db = client, database
        self.consumer = make_consumer(bootstrap, config.group, ready_check=True)
        self.producer = make_producer(bootstrap, **{"linger.ms": 5})
        self.codecs = {t: Codec(s) for t, s in self.inputs.items()}
        self.dlq_codec = Codec("dead_letter")
        self.http = httpx.Client()
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="notify-send")
        self.pending: dict[str, Delivery] = {}
        self.breakers: dict[str, CircuitBreaker] = {}
        self.schedule = Schedule()
        self.open_alerts = OpenAlerts(config.am_refresh_s)
        self.open_subjects: dict[tuple[str, str], Delivery] = {}
        self.context = IncidentContext(client, database)
        self.routing = RoutingConfig()
        self._routing_text = ""
        self._routes_checked = 0.0
        self._stop = Event()
        self.ready = Event()

    # -- lifecycle -------------------------------------------------------------
    def stop(self) -> None:
        """Ask :meth:`run` to finish (safe from signal handlers)."""
        self._stop.set()

    def restore(self) -> None:
        """Reload pending deliveries and open subjects from ClickHouse."""
        for d in self.log.pending():
            self.pending[d.key] = d
        for d in self.log.open_delivered():
            self._remember_delivered(d)
        self.telemetry.pending.set(len(self.pending))
        log.info("notify_restored", pending=len(self.pending), open=len(self.open_subjects))

    def run(self, idle_poll_s: float = 0.2) -> None:
        """Consume, route, deliver and refresh until stopped."""
        self.reload_routes(force=True)
        self.restore()
        self.consumer.subscribe(list(self.inputs), on_assign=lambda *_: self.ready.set())
        try:
            while not self._stop.is_set():
                msgs = self.consumer.consume(500, idle_poll_s)
                if msgs:
                    self.handle(msgs)
                self.reload_routes()
                self.repeat_open()
                self.dispatch()
                self.refresh_alertmanager()
        finally:
            self.consumer.close()
            self.producer.flush(10)
            self.pool.shutdown(wait=True)
            self.http.close()

    def reload_routes(self, force: bool = False) -> None:
        """Re-read the effective routing document (keeps the old one when invalid)."""
        if not force and time.monotonic() - self._routes_checked < self.config.routes_reload_s:
            return
        self._routes_checked = time.monotonic()
        doc = read_routes(self.client, self.db, self.config.routes_path)
        if doc.text == self._routing_text:
            return
        try:
            self.routing = doc.config()
            self._routing_text = doc.text
            log.info("notify_routes_loaded", source=doc.source,
                     routes=len(self.routing.routes), endpoints=len(self.routing.endpoints))
        except RoutingError as exc:
            if force and not self._routing_text:
                raise
            log.error("notify_routes_invalid", source=doc.source, error=str(exc))

    # -- input -----------------------------------------------------------------
    def handle(self, msgs: list[Any]) -> None:
        """Turn a polled batch into durable deliveries, then commit its offsets."""
        notes: list[Notification] = []
        for msg in msgs:
            if msg.error():
                log.warning("notify_consume_error", error=str(msg.error()))
                continue
            self.telemetry.inputs.labels(msg.topic()).inc()
            try:
                note = self.notification(msg.topic(), self.codecs[msg.topic()].decode(msg.value()))
            except (CodecError, KeyError, TypeError, ValueError) as exc:
                self.dead_letter(msg, exc, "DECODE" if isinstance(exc, CodecError) else "PROCESS")
                continue
            if note is not None:
                notes.append(note)
        self.enqueue(notes)
        self.producer.flush(30)
        for msg in msgs:
            if not msg.error():
                self.consumer.store_offsets(msg)
        self.consumer.commit(asynchronous=False)

    def notification(self, topic: str, rec: dict[str, Any]) -> Notification | None:
        """The notification for one input record (None: not notified, e.g. low severity)."""
        schema = self.inputs[topic]
        if schema == "incident":
            self.context.add_incident(rec)
            return from_incident(rec, self.context.rca(rec["incident_id"]))
        if schema == "rca_report":
            self.context.add_rca(rec)
            return from_rca(rec, self.context.incident(rec["incident_id"]))
        if severity_rank(str(rec["severity"])) < severity_rank(self.config.anomaly_min_severity):
            return None
        return from_anomaly(rec)

    def enqueue(self, notes: list[Notification]) -> list[Delivery]:
        """Route ``notes`` and write their new deliveries (deduplicated by key)."""
        fresh: list[tuple[Any, Delivery]] = []
        for note in notes:
            for route, endpoint in self.routing.targets(note):
                key = note.idempotency_key(endpoint.name)
                fresh.append((route, Delivery(key, endpoint.name, endpoint.type, route.name,
                                              route.group_key(note), note)))
        known = self.log.known([d.key for _, d in fresh]) | set(self.pending)
        changed: list[Delivery] = []
        for route, d in fresh:
            if d.key in known:
                continue
            known.add(d.key)
            d.state, d.next_attempt_ms = self.schedule.place(
                route, d.endpoint, d.group_key, d.note, now_ms=now_ms())
            changed.extend(self._supersede(d))
            changed.append(d)
            if d.state == "PENDING":
                self.pending[d.key] = d
            else:
                self.telemetry.deliveries.labels(d.endpoint, d.state).inc()
        self.log.save(changed)
        self.telemetry.pending.set(len(self.pending))
        return changed

    def _supersede(self, new: Delivery) -> list[Delivery]:
        """Older untried deliveries of the same subject to the same endpoint give way."""
        out = []
        for d in list(self.pending.values()):
            if d.endpoint == new.endpoint and d.note.subject == new.note.subject \
                    and d.attempts == 0 and new.state == "PENDING":
                d.state, d.last_error = "SUPERSEDED", f"superseded by {new.key}"
                del self.pending[d.key]
                self.telemetry.deliveries.labels(d.endpoint, d.state).inc()
                out.append(d)
        return out

    # -- delivery --------------------------------------------------------------
    def dispatch(self) -> int:
        """Attempt every due delivery (endpoints in parallel); returns attempts made.

        Outcomes are written after each round of at most ``SEND_ROUND`` deliveries per
        endpoint, which bounds what a crash can re-send (sent, but not yet recorded).
        """
        now, made = now_ms(), 0
        while not self._stop.is_set():
            settled, more = self._round(now)
            made += settled
            if not more:
                break
        return made

    def _round(self, now: int) -> tuple[int, bool]:
        """One round of due deliveries; (attempts made, whether more were due)."""
        due: dict[str, list[Delivery]] = {}
        more = False
        for d in sorted(self.pending.values(), key=lambda x: x.next_attempt_ms):
            if d.next_attempt_ms <= now:
                items = due.setdefault(d.endpoint, [])
                more |= len(items) >= SEND_ROUND
                if len(items) < SEND_ROUND:
                    items.append(d)
        jobs = []
        for name, items in due.items():
            try:
                endpoint = self.routing.endpoint(name)
            except KeyError:
                for d in items:
                    self._give_up(d, f"endpoint {name} is no longer in the routing document")
                continue
            jobs.append(self.pool.submit(self._send_all, endpoint, items))
        settled = [pair for job in jobs for pair in job.result()]
        self.log.attempts([self.log.attempt_row(*self._settle(d, r)) for d, r in settled])
        self.log.save([d for d, _ in settled])
        self.telemetry.pending.set(len(self.pending))
        return len(settled), more

    def _send_all(self, endpoint: Endpoint, items: list[Delivery]
                  ) -> list[tuple[Delivery, AttemptResult]]:
        breaker = self._breaker(endpoint.name)
        out = []
        for d in items:
            if not breaker.allow():
                wait_ms = int(max(0.0, breaker.retry_at() - time.monotonic()) * 1000)
                d.next_attempt_ms = now_ms() + wait_ms
                continue
            result = self.send(endpoint, [d.note], d.key)
            (breaker.success if result.ok else breaker.failure)()
            out.append((d, result))
        return out

    def send(self, endpoint: Endpoint, notes: list[Notification], key: str) -> AttemptResult:
        """One HTTP attempt of ``notes`` to ``endpoint``."""
        try:
            secret = endpoint.secret()
        except (RoutingError, OSError) as exc:
            return AttemptResult("CONFIG_ERROR", 0, 0.0, str(exc))
        if endpoint.type == "alertmanager":
            url = alertmanager_api.alerts_url(endpoint.url)
            body = alertmanager_api.alerts_body(
                notes, api_base=self.config.api_base_url, now_ms=now_ms(),
                ttl_ms=int(self.config.am_refresh_s * 3000))
        else:
            url = endpoint.url
            body = payloads.render(endpoint.format, notes, key=key, receiver=endpoint.name,
                                   group_key=notes[0].subject, api_base=self.config.api_base_url,
                                   now_ms=now_ms())
        return post(self.http, url, body, key=key, secret=secret, timeout_s=endpoint.timeout_s,
                    headers=endpoint.headers)

    def _settle(self, d: Delivery, result: AttemptResult) -> tuple[Delivery, AttemptResult]:
        """Apply one attempt's outcome to ``d`` (written by the caller, in one batch)."""
        d.attempts += 1
        self.telemetry.attempts.labels(d.endpoint, result.status).inc()
        self.telemetry.latency.labels(d.endpoint).observe(result.latency_ms / 1000)
        self.telemetry.breaker_open.labels(d.endpoint).set(
            1 if self._breaker(d.endpoint).state == "OPEN" else 0)
        if result.ok:
            d.state, d.delivered_ms, d.last_error = "DELIVERED", now_ms(), ""
            self.pending.pop(d.key, None)
            self.schedule.sent(d.endpoint, d.route, d.group_key, d.delivered_ms)
            self._remember_delivered(d)
            self.telemetry.deliveries.labels(d.endpoint, d.state).inc()
        else:
            d.last_error = result.error
            if result.retryable and not self.config.retry.exhausted(d.attempts):
                d.next_attempt_ms = now_ms() + int(self.config.retry.delay_s(d.attempts) * 1000)
                log.warning("notify_attempt_failed", endpoint=d.endpoint, key=d.key,
                            attempt=d.attempts, error=result.error)
            else:
                self._give_up(d, result.error, save=False)
        return d, result

    def _give_up(self, d: Delivery, reason: str, save: bool = True) -> None:
        """Dead-letter a delivery whose retry budget is spent (or that cannot succeed)."""
        d.state, d.last_error = "DEAD", reason
        self.pending.pop(d.key, None)
        self.telemetry.deliveries.labels(d.endpoint, d.state).inc()
        self.telemetry.dead_letters.labels("SINK").inc()
        self.producer.produce(self.config.dlq_topic, key=f"notify:{d.endpoint}".encode(),
                              value=self.dlq_codec.encode({
                                  "topic": f"notify:{d.endpoint}", "partition": -1,
                                  "offset": -1, "key": d.key.encode(),
                                  "error": f"after {d.attempts} attempts: {reason}"[:4000],
                                  "error_type": "DeliveryFailed", "stage": "SINK",
                                  "component": "notify", "raw": d.note.to_json().encode(),
                                  "ts": now_ms()}))
        self.producer.flush(30)
        log.error("notify_dead_letter", endpoint=d.endpoint, key=d.key, attempts=d.attempts,
                  error=reason)
        if save:
            self.log.save([d])

    def dead_letter(self, msg: Any, exc: Exception, stage: str) -> None:
        """An input record that cannot be turned into a notification, with the reason."""
        self.telemetry.dead_letters.labels(stage).inc()
        self.producer.produce(self.config.dlq_topic, key=msg.topic().encode(),
                              value=self.dlq_codec.encode({
                                  "topic": msg.topic(), "partition": msg.partition(),
                                  "offset": msg.offset(), "key": msg.key(), "error": str(exc),
                                  "error_type": type(exc).__name__, "stage": stage,
                                  "component": "notify", "raw": msg.value() or b"",
                                  "ts": now_ms()}))

    # -- open subjects: repeat and Alertmanager refresh ------------------------
    def _remember_delivered(self, d: Delivery) -> None:
        if d.note.incident is not None:
            self.context.add_incident(d.note.incident)
        if d.note.rca is not None:
            self.context.add_rca(d.note.rca)
        if d.endpoint_type == "alertmanager":
            self.open_alerts.delivered(d.endpoint, d.note)
        elif d.note.firing and d.note.subject.startswith("incident:"):
            self.open_subjects[(d.endpoint, d.note.subject)] = d
        else:
            self.open_subjects.pop((d.endpoint, d.note.subject), None)

    def repeat_open(self) -> None:
        """Queue a repeat of open incidents unchanged for their route's repeat interval."""
        now = now_ms()
        repeats = []
        for (endpoint, subject), d in list(self.open_subjects.items()):
            route = next((r for r in self.routing.routes if r.name == d.route), None)
            if route is None or not route.repeat_interval_s or any(
                    p.endpoint == endpoint and p.note.subject == subject
                    for p in self.pending.values()):
                continue
            if now - (d.delivered_ms or now) >= route.repeat_interval_s * 1000:
                note = replace(d.note, repeat=d.note.repeat + 1)
                del self.open_subjects[(endpoint, subject)]
                repeats.append(Delivery(note.idempotency_key(endpoint), endpoint,
                                        d.endpoint_type, d.route, d.group_key, note))
        for d in repeats:
            self.pending[d.key] = d
        self.log.save(repeats)

    def refresh_alertmanager(self) -> None:
        """Re-post firing alerts so Alertmanager keeps them active."""
        for name, notes in self.open_alerts.due().items():
            try:
                endpoint = self.routing.endpoint(name)
            except KeyError:
                continue
            result = self.send(endpoint, notes, key=f"refresh:{name}")
            self.telemetry.attempts.labels(name, result.status).inc()
            self.log.attempts([self.log.attempt_row(
                Delivery(note.idempotency_key(name), name, "alertmanager", "", "", note),
                result, kind="refresh", attempt=0) for note in notes])

    def _breaker(self, name: str) -> CircuitBreaker:
        if name not in self.breakers:
            self.breakers[name] = CircuitBreaker(self.config.breaker_failures,
                                                 self.config.breaker_reset_s)
        return self.breakers[name]

