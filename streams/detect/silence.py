"""Cluster silence: a rule on the registry heartbeats (``aiops.clusters``), in event time.

Every scraper heartbeats its ClusterRecord (key = cluster name, so one partition owns a
cluster).  A cluster whose newest heartbeat is more than ``silence_ms`` behind the
worker's event-time clock (the newest sample it has seen on any topic) is reported once
as a CRITICAL THRESHOLD_BREACH on the CLUSTER entity; a heartbeat clears it.  Clusters
silent for longer than ``forget_ms`` when first noticed (long gone, never deleted) and
deleted ones (tombstones) are forgotten without a report.

>>> import json
>>> st = SilenceStage(silence_ms=60_000)
>>> st.heartbeat("c1", 1_000); st.heartbeat("c2", 1_000)
>>> st.tick(50_000)
[]
>>> st.heartbeat("c1", 70_000)
>>> [a["entity"] for a in st.tick(80_000)]
['c2']
>>> st.tick(90_000)  # reported once
[]
>>> st.heartbeat("c2", 95_000); st.active
set()
"""

from __future__ import annotations

import json
from typing import Any

from schemas.codec import Codec
from schemas.errors import CodecError
from streams.detect import anomalies
from streams.detect.metric_stage import BatchResult

NAME = "aiops_cluster_heartbeat_absent"
DETECTOR = "rule:cluster_silent"


class SilenceStage:
    """Newest heartbeat per cluster of one ``aiops.clusters`` partition."""

    def __init__(self, silence_ms: int = 120_000, forget_ms: int = 3_600_000) -> None:
        self.silence_ms = int(silence_ms)
        self.forget_ms = max(int(forget_ms), self.silence_ms)
        self.last_seen: dict[str, int] = {}
        self.active: set[str] = set()
        self.codec = Codec("cluster_record")
        self.max_ts = 0
        self._next_check = 0

    def heartbeat(self, cluster: str, ts: int) -> None:
        """A heartbeat (or any record) of ``cluster`` at event time ``ts``."""
        if ts >= self.last_seen.get(cluster, 0):
            self.last_seen[cluster] = int(ts)
            self.active.discard(cluster)
        self.max_ts = max(self.max_ts, int(ts))

    def process(self, payloads: list[bytes], keys: list[bytes | None] | None = None
                ) -> BatchResult:
        """Heartbeats of one poll; an empty payload with a key is a tombstone.

        The partition's own clock is checked as it advances through the batch (every
        ``silence_ms / 8`` of event time): a poll that holds a silence and its end (a
        backlog read in one go) still reports it."""
        out = BatchResult()
        step = max(self.silence_ms // 8, 1)
        for i, payload in enumerate(payloads):
            if self.max_ts >= self._next_check:
                out.anomalies += self.tick(self.max_ts)
                self._next_check = self.max_ts + step
            if not payload:
                key = keys[i] if keys else None
                if key:
                    self.last_seen.pop(key.decode(errors="replace"), None)
                    self.active.discard(key.decode(errors="replace"))
                continue
            try:
                rec = self.codec.decode(payload)
            except CodecError as exc:
                out.dead.append((i, f"{type(exc).__name__}: {exc}"))
                continue
            self.heartbeat(rec["name"], int(rec.get("last_seen") or 0))
        return out

    def due(self, now_ms: int) -> bool:
        """Whether :meth:`tick` at ``now_ms`` would report a cluster."""
        return any(self.silence_ms < now_ms - seen <= self.forget_ms and c not in self.active
                   for c, seen in self.last_seen.items())

    def tick(self, now_ms: int) -> list[dict[str, Any]]:
        """Reports for clusters that fell silent by event time ``now_ms``."""
        out: list[dict[str, Any]] = []
        for cluster, seen in list(self.last_seen.items()):
            behind = now_ms - seen
            if behind <= self.silence_ms or cluster in self.active:
                continue
            if behind > self.forget_ms:
                del self.last_seen[cluster]
                continue
            self.active.add(cluster)
            out.append(anomalies.build(
                cluster=cluster, name=NAME, labels={"cluster": cluster}, series_id=0,
                kind="THRESHOLD_BREACH", actual=behind / 1000.0,
                expected=self.silence_ms / 1000.0, lower=0.0, upper=self.silence_ms / 1000.0,
                z=0.0, z_on=0.0, detector=DETECTOR, start_ts=seen, sample_ts=int(now_ms),
                rule=f"no heartbeat from cluster {cluster} for {behind / 1000:.0f} s "
                     f"(> {self.silence_ms / 1000:.0f} s): scraper or cluster down",
                severity="CRITICAL", entity=("CLUSTER", cluster)))
        return out

    def live_series(self) -> int:
        return len(self.last_seen)

    def to_bytes(self) -> bytes:
        return json.dumps({"last_seen": self.last_seen, "active": sorted(self.active),
                           "max_ts": self.max_ts}).encode()

    @classmethod
    def from_bytes(cls, blob: bytes, silence_ms: int = 120_000,
                   forget_ms: int = 3_600_000) -> SilenceStage:
        state = json.loads(blob.decode())
        stage = cls(silence_ms, forget_ms)
        stage.last_seen = {k: int(v) for k, v in state["last_seen"].items()}
        stage.active = set(state["active"])
        stage.max_ts = int(state.get("max_ts", 0))
        return stage
