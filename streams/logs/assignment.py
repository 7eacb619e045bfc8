"""Template assignment for stored log lines: one miner per stream, restartable exactly.

The ClickHouse sink mines every line of a LogBatch record with the miner of the line's stream
(:func:`stream_key`, ``cluster/namespace/app``) of the record's partition, in offset order: the
same miner, key and order as the detect worker's log stage, so both see the same templates.

Durable state per stream is a miner snapshot plus ``through``, the next partition offset the
snapshot does not reflect. A record below ``through`` (replayed after a crash) is looked up
read-only (:meth:`LogTemplateMiner.match`), so it is not counted twice; from ``through`` on,
lines are mined. A stream's snapshot is *due* when one of its templates was created or changed
since the last saved snapshot (so every template change before a committed offset is durable),
or when it was saved more than ``save_every_s`` ago (cluster sizes, which only break ties).

>>> a = TemplateAssigner()
>>> rec = {"cluster": "c1", "labels": [{"namespace": "shop", "app": "cart"}] * 2,
...        "bodies": ["user 42 logged in from 10.0.0.1", "user 7 logged in from 10.0.0.2"]}
>>> got = a.assign(("aiops.logs", 0), 5, rec)
>>> got.templates[0], got.ids[0] == got.ids[1], got.params[1], got.streams[0]
('user <NUM> logged in from <IP>', True, ['7', '10.0.0.2'], ('c1', 'shop', 'cart'))
>>> [(s.stream, s.offset) for s in a.due(("aiops.logs", 0))]
[('c1/shop/cart', 6)]
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.logs.templates import LogTemplateMiner, MinerSettings, TemplateMatch
from streams.logs_setup import get_logger

log = get_logger(__name__)

PartitionKey = tuple[str, int]


def stream_parts(cluster: str, labels: dict[str, str]) -> tuple[str, str, str]:
    """``(cluster, namespace, app)`` of a line (app: ``app``, else ``container``, else ``job``).

    >>> stream_parts("c1", {"namespace": "shop", "container": "cart"})
    ('c1', 'shop', 'cart')
    """
    app = labels.get("app") or labels.get("container") or labels.get("job") or ""
    return cluster, labels.get("namespace", ""), app


def stream_key(cluster: str, labels: dict[str, str]) -> str:
    """``cluster/namespace/app``: one miner per key (here and in the detect worker)."""
    return "/".join(stream_parts(cluster, labels))


@dataclass(slots=True)
class Assignment:
    """Templates of one LogBatch record's lines (index i: line i)."""

    ids: list[str]
    templates: list[str]
    params: list[list[str]]
    streams: list[tuple[str, str, str]]  # (cluster, namespace, app)


@dataclass(slots=True)
class StreamMiner:
    """A stream's miner and where its state stands in the partition."""

    miner: LogTemplateMiner
    through: int = 0  # next partition offset the miner does not reflect
    changed: int = 0  # ``through`` after the last template change (0: none yet)
    saved: int = 0  # ``through`` of the last durable snapshot
    saved_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A stream's miner state to store, valid up to (excluding) ``offset``."""

    stream: str
    offset: int
    state: bytes


class TemplateAssigner:
    """Per partition, per stream miners with snapshot/restore by partition offset."""

    def __init__(self, settings: MinerSettings | None = None, save_every_s: float = 60.0
                 ) -> None:
        self.settings = settings or MinerSettings()
        self.save_every_s = float(save_every_s)
        self.partitions: dict[PartitionKey, dict[str, StreamMiner]] = {}

    # -- state -------------------------------------------------------------------------
    def loaded(self, key: PartitionKey) -> bool:
        return key in self.partitions

    def load(self, key: PartitionKey, rows: Iterable[tuple[str, int, bytes]]) -> int:
        """Restore a partition's streams from ``(stream, through, snapshot)`` rows.

        A snapshot that cannot be restored (corrupt, other version) is logged and that
        stream starts afresh: lines keep flowing, its ids are mined again from scratch.
        """
        streams: dict[str, StreamMiner] = {}
        for stream, through, state in rows:
            miner = LogTemplateMiner(self.settings)
            try:
                miner.restore(state)
            except Exception as exc:  # noqa: BLE001 - stored bytes: never stop the sink
                log.warning("template state not restorable; mining afresh", stream=stream,
                            partition=f"{key[0]}/{key[1]}", error=str(exc)[:200])
                continue
            through = int(through)
            streams[stream] = StreamMiner(miner, through, through, through)
        self.partitions[key] = streams
        return len(streams)

    def forget(self, keys: Iterable[PartitionKey]) -> None:
        """Drop the state of revoked partitions (the next owner restores it)."""
        for key in keys:
            self.partitions.pop(key, None)

    # -- mining ------------------------------------------------------------------------
    def assign(self, key: PartitionKey, offset: int, record: dict[str, Any]) -> Assignment:
        """Templates of every line of the LogBatch ``record`` at ``offset`` of ``key``."""
        streams = self.partitions.setdefault(key, {})
        cluster = record["cluster"]
        out = Assignment([], [], [], [])
        mined: dict[str, bool] = {}  # stream -> a template changed
        last: dict[str, str] | None = None
        for labels, body in zip(record["labels"], record["bodies"], strict=True):
            if labels != last:  # lines of a record mostly share their stream labels
                last = labels
                parts = stream_parts(cluster, labels)
                skey = "/".join(parts)
                st = streams.get(skey)
                if st is None:
                    st = streams[skey] = StreamMiner(LogTemplateMiner(self.settings))
            match: TemplateMatch | None = None
            if offset < st.through:  # already in the restored state: look up only
                match = st.miner.match(body)
            if match is None:
                match = st.miner.add(body)
                mined[skey] = mined.get(skey, False) or match.change != "none"
            out.ids.append(match.template_id)
            out.templates.append(match.template)
            out.params.append(match.param_values())
            out.streams.append(parts)
        for skey, changed in mined.items():
            st = streams[skey]
            st.through = max(st.through, offset + 1)
            if changed:
                st.changed = st.through
        return out

    # -- snapshots ---------------------------------------------------------------------
    def due(self, key: PartitionKey, streams: Iterable[str] | None = None,
            now: float | None = None) -> list[Snapshot]:
        """Snapshots to store for ``streams`` (default: all) of a partition."""
        now = time.monotonic() if now is None else now
        known = self.partitions.get(key, {})
        out = []
        for skey in known if streams is None else streams:
            st = known.get(skey)
            if st is None or st.through <= st.saved:
                continue
            if st.changed > st.saved or now - st.saved_at >= self.save_every_s:
                out.append(Snapshot(skey, st.through, st.miner.snapshot()))
        return out

    def saved(self, key: PartitionKey, stream: str, offset: int,
              now: float | None = None) -> None:
        """A snapshot up to ``offset`` is durable."""
        st = self.partitions.get(key, {}).get(stream)
        if st is not None and offset > st.saved:
            st.saved = offset
            st.saved_at = time.monotonic() if now is None else now
