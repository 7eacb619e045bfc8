"""Read a run's ground truth (JSONL file or ``aiops.groundtruth``) and results (ClickHouse)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.codec import Codec
from streams.scorecard.model import Cause, Fault, Incident, Report


def faults_from_jsonl(path: Path) -> list[Fault]:
    """Faults from the simulator's ``--truth`` file (duplicates by fault_id collapse)."""
    seen: dict[str, Fault] = {}
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            f = Fault.from_record(json.loads(line))
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}:{n}: not a FaultRecord ({exc})") from exc
        seen[f.fault_id] = f
    return list(seen.values())


def faults_from_topic(bootstrap: str, topic: str = "aiops.groundtruth",
                      timeout_s: float = 10.0) -> list[Fault]:
    """Every FaultRecord on the ground-truth topic (read from the start, no commits)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"scorecard-{uuid.uuid4()}",
                         "enable.auto.commit": False, "log_level": 0})
    codec = Codec("fault_record")
    seen: dict[str, Fault] = {}
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if meta is None or meta.error is not None:
            return []
        ends: dict[int, int] = {}
        parts = []
        for p in meta.partitions:
            lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
            if hi > lo:
                ends[p] = hi
                parts.append(TopicPartition(topic, p, lo))
        if not parts:
            return []
        consumer.assign(parts)
        done: set[int] = set()
        while len(done) < len(ends):
            msg = consumer.poll(timeout_s)
            if msg is None:
                raise TimeoutError(f"{topic}: no record within {timeout_s}s")
            if msg.error():
                continue
            f = Fault.from_record(codec.decode(msg.value()))
            seen[f.fault_id] = f
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
    finally:
        consumer.close()
    return list(seen.values())


@dataclass
class Results:
    """What the pipeline stored in ClickHouse for a run."""

    incidents: list[Incident]
    reports: list[Report]
    spans: dict[str, tuple[int, int]]
    rows_stored: int
    dead_letters: int
    anomalies: int
    anomaly_starts: list[tuple[str, int]]


def _causes(text: str) -> tuple[Cause, ...]:
    items: list[dict[str, Any]] = json.loads(text or "[]")
    return tuple(Cause(int(c.get("rank", i + 1)), str(c["entity_type"]), str(c["entity"]))
                 for i, c in enumerate(items))


def results_from_clickhouse(client: Any, database: str,
                            window: tuple[int, int] | None = None) -> Results:
    """Incidents (latest version), RCA reports, per-cluster spans and counts.

    ``window`` (epoch ms, simulated) keeps only that run's samples and incidents.
    """
    db = f"`{database}`"
    lo, hi = window or (0, 2**62)
    t = f"toUnixTimestamp64Milli(timestamp) BETWEEN {int(lo)} AND {int(hi)}"
    o = (f"toUnixTimestamp64Milli(opened_ts) <= {int(hi)} "
         f"AND toUnixTimestamp64Milli(timestamp) >= {int(lo)}")
    inc = client.query(
        f"SELECT incident_id, cluster, toUnixTimestamp64Milli(opened_ts), title, entities, "
        f"toUnixTimestamp64Milli(resolved_ts) FROM {db}.incidents FINAL WHERE {o}").result_rows
    members: dict[str, list[tuple[int, str]]] = {}
    for iid, ts, etype, entity in client.query(
            f"SELECT m.incident_id, toUnixTimestamp64Milli(a.start_ts), a.entity_type, a.entity "
            f"FROM (SELECT incident_id, arrayJoin(anomaly_ids) AS aid FROM {db}.incidents FINAL "
            f"WHERE {o}) AS m INNER JOIN (SELECT anomaly_id, start_ts, entity_type, entity "
            f"FROM {db}.anomalies FINAL) AS a ON m.aid = a.anomaly_id").result_rows:
        members.setdefault(iid, []).append((int(ts), f"{etype}:{entity}"))
    alerts: dict[str, list[int]] = {}
    for iid, ts in client.query(
            f"SELECT m.incident_id, toUnixTimestamp64Milli(a.starts_at) FROM "
            f"(SELECT incident_id, arrayJoin(alert_fingerprints) AS fp FROM {db}.incidents "
            f"FINAL WHERE {o}) AS m INNER JOIN (SELECT fingerprint, min(starts_at) AS starts_at "
            f"FROM {db}.alerts GROUP BY fingerprint) AS a ON m.fp = a.fingerprint").result_rows:
        alerts.setdefault(iid, []).append(int(ts))
    rep = client.query(
        f"SELECT incident_id, toUnixTimestamp64Milli(timestamp), causes, probable_cause "
        f"FROM {db}.rca_reports FINAL WHERE incident_id IN (SELECT incident_id FROM "
        f"{db}.incidents FINAL WHERE {o})").result_rows
    spans = client.query(
        f"SELECT cluster, toUnixTimestamp64Milli(min(timestamp)), "
        f"toUnixTimestamp64Milli(max(timestamp)) FROM {db}.metrics WHERE {t} "
        f"GROUP BY cluster").result_rows
    # Series the pipeline derives and publishes back (aiops_* RED metrics from spans, quantile
    # gauges from histograms) are not fleet samples; the simulated fleet has neither.
    rows = client.command(
        f"SELECT count() FROM {db}.metrics WHERE {t} AND NOT startsWith(name, 'aiops_') "
        f"AND series_id NOT IN (SELECT series_id FROM {db}.series "
        f"WHERE mapContains(labels, 'quantile'))")
    dlq = client.command(f"SELECT count() FROM {db}.dead_letters FINAL")
    starts = client.query(
        f"SELECT cluster, toUnixTimestamp64Milli(start_ts) FROM {db}.anomalies FINAL "
        f"WHERE {t}").result_rows
    return Results(
        incidents=[Incident(r[0], r[1], int(r[2]), r[3], tuple(r[4]),
                            int(r[5]) if r[5] is not None else None,
                            tuple(sorted(t for t, _ in members.get(r[0], ()))),
                            tuple(sorted(alerts.get(r[0], ()))),
                            tuple(sorted(members.get(r[0], ())))) for r in inc],
        reports=[Report(r[0], int(r[1]), _causes(r[2]), r[3]) for r in rep],
        spans={r[0]: (int(r[1]), int(r[2])) for r in spans},
        rows_stored=int(rows), dead_letters=int(dlq), anomalies=len(starts),
        anomaly_starts=[(r[0], int(r[1])) for r in starts])
