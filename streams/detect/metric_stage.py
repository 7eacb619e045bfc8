"""Metric detection for one partition: decode -> slots -> rates -> rules -> detector -> gate.

All per-series state of the partition lives here (registry, detector state, counter
state, alert gate, rule state), so a partition's state can be checkpointed and handed to
its next owner as one unit.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from schemas.codec import Codec
from schemas.errors import CodecError, CorruptPayloadError
from streams.detect import anomalies
from streams.detect.classify import Baseline
from streams.detect.columnar import COUNTER, HISTOGRAM, SUMMARY, MetricColumns, columns_from_record
from streams.detect.columnar import decode_columns as fast_columns
from streams.detect.cooldown import AlertGate
from streams.detect.counters import CounterRates
from streams.detect.histograms import HistogramQuantiles, is_bucket
from streams.detect.ptp_ports import FEATURES as PTP_FEATURES
from streams.detect.ptp_ports import PtpPorts
from streams.detect.registry import SeriesRegistry
from streams.detect.rules_cnf import NONE, CnfRules, rule_code
from streams.detect.subset import SubsetDetector
from streams.detectors import MetricDetector, Sensitivity

if TYPE_CHECKING:
    from streams.settings import Settings

DAY_MS = 86_400_000
CUMULATIVE = 1  # kind bit: the series is a counter (or histogram/summary _sum/_count/_bucket)
RULE_BITS = 0x3  # kind >> 1: the CNF rule code
BUCKET = 0x80  # kind bit: a histogram bucket (quantiles are derived from its rate)
PTP = 0x08  # kind bit: a PTP port reading (feeds the per-port model)
RATIO = 0x10  # kind bit: a bounded ratio (name ends in ``_ratio``: values in [0, 1])
#: The smallest value range the detector assumes for a ratio series: a series flat at one
#: value (a clean service's error ratio at 0) then needs a move of ``z_on * resolution *
#: RATIO_RANGE`` (6 points at MEDIUM) to be novel, not any move at all, and scores in
#: proportion to the move (z 10, HIGH at MEDIUM, from 25 points) instead of saturating.
RATIO_RANGE = 0.5
EVENT_RATE = 0x20  # kind bit: events per second counted in windows (sampled spans per RED window)
EVENT_RATE_NAMES = ("aiops_red_requests_per_second", "aiops_edge_calls_per_second")
#: The smallest range of an event-rate series, in Poisson standard deviations of the
#: window's count (``sqrt(count) / window``): a move must exceed about 1.5 of them (at
#: MEDIUM) to be novel, roughly a one-sided Poisson test at 1 %: 1 -> 2 or 4 -> 8 calls per
#: window are noise, 1 -> 5, 4 -> 10 or 10 -> 20 are not.  Busier series get the
#: detector's level-relative range first.
EVENT_RATE_RANGE = 12.0


@dataclass
class StageConfig:
    """Detection settings shared by every partition of a worker."""

    sensitivity: str = "MEDIUM"
    warmup: int = 30
    cooldown_ms: int = 300_000
    escalate: float = 10.0  # an active/cooling series fires again at this x its episode's peak z
    stale_ms: int = 3_600_000
    ptp_offset_ns: float = 100.0
    seasonal_bins: int = 0
    detector: dict[str, Any] = field(default_factory=dict)
    event_window_ms: int = 15_000  # the window event-rate series are counted over

    @property
    def z_on(self) -> float:
        return Sensitivity[self.sensitivity.upper()].z

    @classmethod
    def from_settings(cls, s: Settings) -> StageConfig:
        """The settings ``aiops detect`` runs with, from a :class:`~streams.settings.Settings`."""
        return cls(sensitivity=s.detect_sensitivity, warmup=s.detect_warmup,
                   cooldown_ms=int(s.detect_cooldown_s * 1000),
                   escalate=s.detect_escalate_ratio, stale_ms=int(s.detect_stale_s * 1000),
                   ptp_offset_ns=s.detect_ptp_offset_ns, seasonal_bins=s.detect_seasonal_bins)


@dataclass
class BatchResult:
    """What one batch produced."""

    anomalies: list[dict[str, Any]] = field(default_factory=list)
    dead: list[tuple[int, str]] = field(default_factory=list)  # (message index, reason)
    samples: int = 0
    evicted: int = 0
    metric_batches: list[dict[str, Any]] = field(default_factory=list)  # derived metrics


def decode_each(codec: Codec, payloads: list[bytes], out: BatchResult
                ) -> Iterator[dict[str, Any]]:
    """The decoded records of one poll batch; an undecodable one becomes ``out.dead``
    (its index and the reason) and is skipped."""
    for i, p in enumerate(payloads):
        try:
            yield codec.decode(p)
        except CodecError as exc:
            out.dead.append((i, f"{type(exc).__name__}: {exc}"))


def kind_of(name: str, mtype: int, labels: dict[str, str] | None = None) -> int:
    """Kind byte of a new series: cumulative flag | rule code << 1 | PTP | ratio | event
    rate | bucket."""
    cumulative = mtype in (COUNTER, HISTOGRAM) or (
        mtype == SUMMARY and name.endswith(("_count", "_sum")))
    bucket = mtype == HISTOGRAM and labels is not None and is_bucket(name, labels)
    ratio = not cumulative and name.endswith("_ratio")
    return (int(cumulative) | (rule_code(name) << 1) | (BUCKET if bucket else 0)
            | (PTP if name in PTP_FEATURES else 0) | (RATIO if ratio else 0)
            | (EVENT_RATE if name in EVENT_RATE_NAMES else 0))


class _Message:
    """One payload, its numeric columns and (lazily) its full decode."""

    codec = Codec("metric_batch")

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self._record: dict[str, Any] | None = None
        cols = fast_columns(payload)
        self.cols: MetricColumns = cols if cols is not None else columns_from_record(self.record)

    @property
    def record(self) -> dict[str, Any]:
        """The full decode; raises CorruptPayloadError when its columns differ in length."""
        if self._record is None:
            rec = self.codec.decode(self.payload)
            cols = ("timestamps", "series_ids", "names", "labels", "values", "types")
            if len({len(rec[c]) for c in cols}) != 1:
                raise CorruptPayloadError("metric_batch: column lengths differ: " + ", ".join(
                    f"{c}={len(rec[c])}" for c in cols))
            self._record = rec
        return self._record

    def meta(self, p: int) -> tuple[str, dict[str, str]]:
        """(name, labels) of sample ``p``; ("", {}) when the record is corrupt (the message
        is dead-lettered by the stage, the anomaly still names the series id)."""
        try:
            rec = self.record
        except CodecError:
            return "", {}
        return rec["names"][p], rec["labels"][p]


class _BadMessage(Exception):
    def __init__(self, k: int, reason: str) -> None:
        super().__init__(reason)
        self.k = k
        self.reason = reason


class MetricStage:
    """Per-partition metric detection state and its batch step."""

    def __init__(self, config: StageConfig, capacity: int = 1024) -> None:
        self.config = config
        self.registry = SeriesRegistry(capacity)
        det_cfg = {"sensitivity": config.sensitivity, "warmup": config.warmup,
                   "seasonal_bins": config.seasonal_bins, **config.detector}
        self.detector = SubsetDetector(MetricDetector, det_cfg, self.registry.capacity)
        self.counters = CounterRates(self.registry.capacity)
        self.baseline = Baseline(self.registry.capacity)
        z_on = config.z_on
        self.gate = AlertGate(self.registry.capacity, z_on=z_on, z_off=0.5 * z_on,
                              cooldown_ms=config.cooldown_ms, escalate=config.escalate)
        self.rules = CnfRules(config.ptp_offset_ns)
        self.hist = HistogramQuantiles()
        self.ptp = PtpPorts()
        self.max_ts = 0
        self.last_evict_ts = 0
        self.target_slots: dict[tuple[str, str], np.ndarray] = {}
        self._index: list[int] = []  # payload index of each decoded message of the batch

    # -- the batch step -------------------------------------------------------------
    def process(self, payloads: list[bytes]) -> BatchResult:
        out = BatchResult()
        msgs: list[_Message] = []
        index: list[int] = []
        for i, p in enumerate(payloads):
            try:
                msgs.append(_Message(p))
                index.append(i)
            except CodecError as exc:
                out.dead.append((i, f"{type(exc).__name__}: {exc}"))
        while True:  # a corrupt record found while registering is dropped before any update
            if not msgs:
                return out
            lens = np.array([len(m.cols) for m in msgs])
            ids = np.concatenate([m.cols.series_ids for m in msgs])
            ts = np.concatenate([m.cols.timestamps for m in msgs])
            vals = np.concatenate([m.cols.values for m in msgs])
            types = np.concatenate([m.cols.types for m in msgs])
            msg_of = np.repeat(np.arange(len(msgs)), lens)
            pos_of = np.concatenate([np.arange(n) for n in lens])
            out.samples = len(ids)
            if not len(ids):
                return out
            try:
                slots = self._slots(ids, types, msgs, msg_of, pos_of)
                break
            except _BadMessage as bad:
                out.dead.append((index.pop(bad.k), bad.reason))
                msgs.pop(bad.k)
        self._index = index
        self.registry.touch(slots, ts)
        self.max_ts = max(self.max_ts, int(ts.max()))
        # Rounds: the r-th sample of every slot in this batch, in time order.
        order = np.lexsort((ts, slots))
        s_sorted = slots[order]
        first = np.r_[True, s_sorted[1:] != s_sorted[:-1]]
        group_start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
        rank = np.arange(len(order)) - group_start
        for r in range(int(rank.max()) + 1):
            sel = order[rank == r]
            self._round(sel, slots, ts, vals, msgs, msg_of, pos_of, out)
        kind = self.registry.kind[slots]
        # PTP_CLASS/STATE/OFFSET rule bits too: series registered before the PTP bit existed
        ptp = np.flatnonzero((kind & PTP) | (((kind >> 1) & RULE_BITS) != NONE))
        if len(ptp):
            samples = []
            for i in ptp.tolist():
                m = msgs[msg_of[i]]
                name, labels = self._meta(m, int(msg_of[i]), int(pos_of[i]), out)
                samples.append((m.cols.cluster, name, labels, float(vals[i]), int(ts[i])))
            out.anomalies += self.ptp.observe(samples)
        out.evicted = self._maybe_evict()
        return out

    def _slots(self, ids: np.ndarray, types: np.ndarray, msgs: list[_Message],
               msg_of: np.ndarray, pos_of: np.ndarray) -> np.ndarray:
        slots = self._cached_slots(msgs)
        if slots is None:
            slots, _new = self.registry.lookup(ids)
        miss = np.flatnonzero(slots < 0)
        if len(miss):
            # New series get consecutive slots in message order: a target's series are
            # then contiguous in every state array (cache-friendly gathers and scatters).
            uniq, first, inv = np.unique(ids[miss], return_index=True, return_inverse=True)
            appear = np.argsort(first, kind="stable")
            kinds = np.empty(len(uniq), dtype=np.uint8)
            buckets = []
            for j, u in enumerate(appear):
                i = miss[first[u]]
                try:
                    rec = msgs[msg_of[i]].record
                except CodecError as exc:
                    raise _BadMessage(int(msg_of[i]), f"{type(exc).__name__}: {exc}") from exc
                p = pos_of[i]
                kinds[j] = kind_of(rec["names"][p], int(types[i]), rec["labels"][p])
                if kinds[j] & BUCKET:
                    buckets.append((j, rec["cluster"], rec["names"][p], rec["labels"][p]))
            uniq_slots = np.empty(len(uniq), dtype=np.int32)
            added = self.registry.add(uniq[appear], kinds)
            uniq_slots[appear] = added
            for j, cluster, name, labels in buckets:
                self.hist.register(int(added[j]), cluster, name, labels)
            self._sync_capacity()
            slots[miss] = uniq_slots[inv.reshape(-1)]
        self._remember_slots(msgs, slots)
        return slots

    def _cached_slots(self, msgs: list[_Message]) -> np.ndarray | None:
        """Slots from the previous scrape of each target when its series are unchanged."""
        parts = []
        for m in msgs:
            cached = self.target_slots.get(m.cols.target_key)
            if cached is None or len(cached) != len(m.cols):
                return None
            if not np.array_equal(self.registry.slot_id[cached], m.cols.series_ids) or not (
                    self.registry.used[cached].all()):
                return None
            parts.append(cached)
        return np.concatenate(parts).astype(np.int32) if parts else None

    def _remember_slots(self, msgs: list[_Message], slots: np.ndarray) -> None:
        start = 0
        for m in msgs:
            n = len(m.cols)
            self.target_slots[m.cols.target_key] = slots[start: start + n].copy()
            start += n

    def _sync_capacity(self) -> None:
        cap = self.registry.capacity
        if cap > self.detector.capacity:
            self.detector.grow(cap)
            self.counters.grow(cap)
            self.baseline.grow(cap)
            self.gate.grow(cap)

    def _range_floor(self, kind: np.ndarray, x: np.ndarray) -> np.ndarray | None:
        """Per-sample smallest range: :data:`RATIO_RANGE` for ratios, Poisson-scaled
        :data:`EVENT_RATE_RANGE` for event rates (of the new value's count, at least one
        event), none (0) for the rest; None when no sample has one."""
        ratio = (kind & RATIO).astype(bool)
        rate = (kind & EVENT_RATE).astype(bool)
        if not ratio.any() and not rate.any():
            return None
        floor = np.where(ratio, RATIO_RANGE, 0.0)
        if rate.any():
            secs = self.config.event_window_ms / 1000.0
            counts = np.maximum(np.nan_to_num(x[rate]) * secs, 1.0)
            floor[rate] = EVENT_RATE_RANGE * np.sqrt(counts) / secs
        return floor

    def _round(self, sel: np.ndarray, slots: np.ndarray, ts: np.ndarray, vals: np.ndarray,
               msgs: list[_Message], msg_of: np.ndarray, pos_of: np.ndarray,
               out: BatchResult) -> None:
        s, t, x = slots[sel], ts[sel], vals[sel]
        kind = self.registry.kind[s]
        cum = (kind & CUMULATIVE).astype(bool)
        if cum.any():
            x = x.copy()
            x[cum] = self.counters.rate(s[cum], x[cum], t[cum])
        bucket = (kind & BUCKET).astype(bool)
        if bucket.any():
            out.metric_batches += self.hist.quantiles(s[bucket], x[bucket], t[bucket])
        rules = (kind >> 1) & RULE_BITS
        for j in np.flatnonzero(rules != NONE):
            self._rule(int(sel[j]), int(rules[j]), float(vals[sel[j]]), msgs, msg_of, pos_of,
                       out)
        bins = self.config.seasonal_bins
        phase = (t // (DAY_MS // bins)) % bins if bins else None
        floor = self._range_floor(kind, x)
        res = self.detector.update(s, x, phase, floor)
        expected, sigma = self.baseline.update(s, x)
        fire = self.gate.step(s, res.z, t)
        if not fire.any():
            return
        f = np.flatnonzero(fire)
        z_on = self.config.z_on
        kinds, expected, lower, upper = self.baseline.shape(s[f], x[f], z_on, expected[f],
                                                            sigma[f])
        for j, k in enumerate(f):
            i = int(sel[k])
            m = msgs[msg_of[i]]
            p = int(pos_of[i])
            name, labels = self._meta(m, int(msg_of[i]), p, out)
            out.anomalies.append(anomalies.build(
                cluster=m.cols.cluster, name=name, labels=labels,
                series_id=int(m.cols.series_ids[p]), kind=str(kinds[j]), actual=float(x[k]),
                expected=float(expected[j]), lower=float(lower[j]), upper=float(upper[j]),
                z=float(res.z[k]), z_on=z_on, detector="metric",
                start_ts=int(self.gate.start_ts[s[k]]), sample_ts=int(t[k]),
            ))

    def _rule(self, i: int, code: int, value: float, msgs: list[_Message], msg_of: np.ndarray,
              pos_of: np.ndarray, out: BatchResult) -> None:
        m = msgs[msg_of[i]]
        p = int(pos_of[i])
        sid = int(m.cols.series_ids[p])
        ts = int(m.cols.timestamps[p])
        for b in self.rules.check(sid, code, value, ts):
            name, labels = self._meta(m, int(msg_of[i]), p, out)
            out.anomalies.append(anomalies.build(
                cluster=m.cols.cluster, name=name, labels=labels,
                series_id=sid, kind="THRESHOLD_BREACH", actual=value, expected=b.threshold,
                lower=b.threshold, upper=b.threshold, z=0.0, z_on=0.0, detector=b.detector,
                start_ts=b.start_ts, sample_ts=ts, rule=b.rule, severity=b.severity,
            ))

    def _meta(self, m: _Message, k: int, p: int, out: BatchResult) -> tuple[str, dict]:
        name, labels = m.meta(p)
        if not name:
            reason = "CorruptPayloadError: metric_batch: column lengths differ"
            if (self._index[k], reason) not in out.dead:
                out.dead.append((self._index[k], reason))
        return name, labels

    def _maybe_evict(self) -> int:
        stale_ms = self.config.stale_ms
        if self.max_ts - self.last_evict_ts < max(stale_ms // 10, 1000):
            return 0
        self.last_evict_ts = self.max_ts
        gone = self.registry.stale(self.max_ts, stale_ms)
        if len(gone):
            self.rules.forget([int(v) for v in self.registry.slot_id[gone]])
            self.hist.forget(gone.tolist())
            self.registry.evict(gone)
            self.target_slots = {k: v for k, v in self.target_slots.items()
                                 if self.registry.used[v].all()}
            self.detector.reset(gone)
            self.counters.reset(gone)
            self.baseline.reset(gone)
            self.gate.reset(gone)
        return len(gone)

    # -- state ----------------------------------------------------------------------
    def live_series(self) -> int:
        return len(self.registry)

    def bytes_per_series(self) -> float:
        """Allocated bytes divided by live series (index, detector, rates, baseline, gate,
        per-target slot cache); capacity grows by doubling, so this includes the slack."""
        return sum(self.memory_breakdown().values())

    def memory_breakdown(self) -> dict[str, float]:
        """:meth:`bytes_per_series` by part; per-slot arrays are counted at capacity."""
        live = max(len(self.registry), 1)
        scale = self.registry.capacity / live
        return {
            "detector": self.detector.nbytes_per_slot() * scale,
            "counters": self.counters.nbytes_per_slot() * scale,
            "baseline": self.baseline.nbytes_per_slot() * scale,
            "gate": self.gate.nbytes_per_slot() * scale,
            "registry": self.registry.nbytes() / live,
            "slot_cache": sum(v.nbytes + 100 for v in self.target_slots.values()) / live,
        }

    def to_bytes(self) -> bytes:
        """The whole partition state as one ``.npz`` blob (no pickle)."""
        h = self.registry.high
        arrays: dict[str, np.ndarray] = {}
        for prefix, part in (("reg", self.registry.state_dict()),
                             ("det", self.detector.state_dict(h)),
                             ("cnt", self.counters.state_dict(h)),
                             ("base", self.baseline.state_dict(h)),
                             ("gate", self.gate.state_dict(h))):
            arrays.update({f"{prefix}/{k}": v for k, v in part.items()})
        meta = {"max_ts": self.max_ts, "last_evict_ts": self.last_evict_ts,
                "hist": self.hist.state(), "ptp": self.ptp.state(),
                "rules": {k: {str(a): b for a, b in v.items()}
                          for k, v in self.rules.state().items()}}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, config: StageConfig) -> MetricStage:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            parts: dict[str, dict[str, np.ndarray]] = {}
            for key in npz.files:
                if key != "meta":
                    prefix, name = key.split("/", 1)
                    parts.setdefault(prefix, {})[name] = npz[key]
            meta = json.loads(npz["meta"].tobytes().decode())
        stage = cls(config)
        stage.registry = SeriesRegistry.from_state(parts["reg"])
        stage._sync_capacity()
        stage.detector.load_state_dict(parts["det"])
        stage.counters.load_state_dict(parts["cnt"])
        stage.baseline.load_state_dict(parts["base"])
        stage.gate.load_state_dict(parts["gate"])
        stage.max_ts = int(meta["max_ts"])
        stage.last_evict_ts = int(meta["last_evict_ts"])
        stage.rules.load(meta["rules"])
        stage.hist.load(meta.get("hist", {}))
        if "ptp" in meta:  # checkpoints before the per-port model have none
            stage.ptp = PtpPorts.from_state(meta["ptp"])
        return stage
