"""Log stage: Drain3 template mining per cluster/namespace/app, and log anomalies.

Every line of a LogBatch is mined by the stream's own miner (``streams.logs``; masking of
ids, IPs, numbers, hex and paths).  Per stream and tumbling window of line time:

* a template never seen before (after ``warmup_lines`` of that stream): PATTERN_BREAK,
  detector ``drain_new_template``, with the template id, text and first parameters;
* a template whose count jumps above its EWMA baseline: SPIKE, ``drain_template_rate``;
* a burst of error-level lines: SPIKE, ``log_error_burst``.

Template ids are not republished per line: the ClickHouse sink assigns them to every stored
line itself (``streams.logs.assignment``: same miner, same ``stream_key``, same per-partition
order), so an anomaly's ``template_id`` is the one stored with its lines in ``logs`` and
``log_templates`` (docs/log-templates.md, "Stored templates").

>>> st = LogStage(window_ms=1000, warmup_lines=2)
>>> rec = {"cluster": "c1", "timestamps_ns": [0, 1, 2], "labels": [{"namespace": "shop",
...        "app": "cart", "pod": "cart-1"}] * 3, "levels": ["INFO"] * 3,
...        "bodies": ["GET /a 200", "GET /b 200", "disk /dev/sda1 failed"]}
>>> [(a["type"], a["detector"]) for a in st.add(rec)]
[('PATTERN_BREAK', 'drain_new_template')]
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from schemas.codec import Codec
from streams.detect import anomalies
from streams.detect.metric_stage import BatchResult, decode_each
from streams.logs.assignment import stream_key
from streams.logs.novelty import ErrorBurstDetector, NewTemplateDetector, WindowRateMonitor
from streams.logs.templates import KeyedTemplateMiners


@dataclass
class _Stream:
    new: NewTemplateDetector
    rates: WindowRateMonitor = field(default_factory=WindowRateMonitor)
    errors: ErrorBurstDetector = field(default_factory=ErrorBurstDetector)
    window: int = -1
    window_templates: list[str] = field(default_factory=list)
    window_levels: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


class LogStage:
    """Miners and per-stream signal state of one ``aiops.logs`` partition."""

    codec = Codec("log_batch")

    def __init__(self, window_ms: int = 60_000, warmup_lines: int = 500) -> None:
        self.window_ms = int(window_ms)
        self.warmup_lines = int(warmup_lines)
        self.miners = KeyedTemplateMiners()
        self.streams: dict[str, _Stream] = {}

    def process(self, payloads: list[bytes]) -> BatchResult:
        out = BatchResult()
        for rec in decode_each(self.codec, payloads, out):
            out.samples += len(rec["bodies"])
            out.anomalies += self.add(rec)
        return out

    def add(self, rec: dict[str, Any]) -> list[dict[str, Any]]:
        """Mine one LogBatch record; return the anomalies it completes."""
        found: list[dict[str, Any]] = []
        cluster = rec["cluster"]
        for ts_ns, labels, level, body in zip(rec["timestamps_ns"], rec["labels"],
                                              rec["levels"], rec["bodies"], strict=True):
            key = stream_key(cluster, labels)
            st = self.streams.get(key)
            if st is None:
                st = self.streams[key] = _Stream(NewTemplateDetector(self.warmup_lines))
            ts = ts_ns // 1_000_000
            w = ts // self.window_ms
            if w != st.window:
                if st.window >= 0:
                    found += self._close(cluster, st, (st.window + 1) * self.window_ms)
                st.window = w
            match = self.miners.add(key, body)
            st.labels = dict(labels)
            st.texts[match.template_id] = match.template
            st.window_templates.append(match.template_id)
            st.window_levels.append(level)
            if st.new.observe(match.template_id):
                params = ", ".join(v for v, _name in match.params[:5])
                found.append(self._anomaly(
                    cluster, st, "PATTERN_BREAK", "drain_new_template", match.template_id,
                    1.0, 0.0, ts, extra={"template": match.template, "params": params}))
        return found

    def _close(self, cluster: str, st: _Stream, end_ms: int) -> list[dict[str, Any]]:
        out = []
        for spike in st.rates.update(st.window_templates):
            out.append(self._anomaly(
                cluster, st, "SPIKE", "drain_template_rate", spike.key, spike.count,
                spike.expected, end_ms, z=spike.score,
                extra={"template": st.texts.get(spike.key, "")}))
        burst = st.errors.update(st.window_levels)
        if burst is not None:
            out.append(self._anomaly(cluster, st, "SPIKE", "log_error_burst", "error",
                                     burst.count, burst.expected, end_ms, z=burst.score))
        st.window_templates, st.window_levels = [], []
        return out

    def _anomaly(self, cluster: str, st: _Stream, kind: str, detector: str, template: str,
                 actual: float, expected: float, ts: int, z: float = 0.0,
                 extra: dict[str, str] | None = None) -> dict[str, Any]:
        labels = {**st.labels, "template_id": template, **(extra or {})}
        return anomalies.build(
            cluster=cluster, name="log_template_lines", labels=labels, series_id=0, kind=kind,
            actual=actual, expected=expected, lower=expected, upper=expected, z=z, z_on=4.0,
            detector=detector, start_ts=ts, sample_ts=ts,
            severity="MEDIUM" if detector == "log_error_burst" else None)

    def live_series(self) -> int:
        return len(self.streams)

    def to_bytes(self) -> bytes:
        """Miner snapshots and per-stream signal state as JSON."""
        streams = {}
        for key, st in self.streams.items():
            r = st.rates
            streams[key] = {
                "seen": sorted(st.new.seen), "lines": st.new.lines, "window": st.window,
                "templates": st.window_templates, "levels": st.window_levels,
                "labels": st.labels, "texts": st.texts,
                "rates": [r.keys, r.mean.tolist(), r.var.tolist(), r.windows],
                "errors": [st.errors.monitor.mean.tolist(), st.errors.monitor.var.tolist(),
                           st.errors.monitor.windows, st.errors.monitor.keys],
            }
        miners = {k: base64.b64encode(v).decode() for k, v in self.miners.snapshot().items()}
        return json.dumps({"streams": streams, "miners": miners, "window_ms": self.window_ms,
                           "warmup_lines": self.warmup_lines}).encode()

    @classmethod
    def from_bytes(cls, blob: bytes) -> LogStage:
        d = json.loads(blob.decode())
        stage = cls(d["window_ms"], d["warmup_lines"])
        stage.miners.restore({k: base64.b64decode(v) for k, v in d["miners"].items()})
        for key, s in d["streams"].items():
            st = _Stream(NewTemplateDetector(stage.warmup_lines, set(s["seen"]), s["lines"]))
            st.window, st.window_templates, st.window_levels = (s["window"], s["templates"],
                                                                s["levels"])
            st.labels, st.texts = s["labels"], s["texts"]
            keys, mean, var, windows = s["rates"]
            st.rates.keys, st.rates.index = keys, {k: i for i, k in enumerate(keys)}
            st.rates.mean, st.rates.var, st.rates.windows = np.array(mean), np.array(var), windows
            em, ev, ew, ek = s["errors"]
            mon = st.errors.monitor
            mon.mean, mon.var, mon.windows = np.array(em), np.array(ev), ew
            mon.keys, mon.index = ek, {k: i for i, k in enumerate(ek)}
            stage.streams[key] = st
        return stage
