"""Signals and evidence records: what kind of signal an anomaly is, and how it is cited.

An anomaly's *signal* is decided from its metric name, detector and rule text, so any
producer's naming works as long as it says what it measures (``cpu``, ``latency``, ``xid``
...).  Evidence records are ``Evidence`` dicts of ``schemas/avro/rca_report.avsc``.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Any


class Signal(StrEnum):
    """Kind of signal an anomaly carries."""

    GPU_XID = "gpu_xid"
    OOM = "oom"
    RESTART = "restart"
    PTP = "ptp"
    CHANGE = "change"
    SILENCE = "silence"
    FLOW = "flow"
    CPU = "cpu"
    MEMORY = "memory"
    DISK = "disk"
    NETWORK = "network"
    GPU = "gpu"
    ERRORS = "errors"
    LATENCY = "latency"
    TRAFFIC = "traffic"
    LOG = "log"
    OTHER = "other"


#: Symptoms propagate along calls; the others are causes or resource signals.  SILENCE:
#: series that stopped (a scraper gone dark, an edge no longer called); FLOW: a caller's
#: calls per request to a callee changed (its own control flow: an exception, an early
#: return).
SYMPTOMS = frozenset({Signal.LATENCY, Signal.ERRORS, Signal.TRAFFIC})
RESOURCES = frozenset({Signal.CPU, Signal.MEMORY, Signal.DISK, Signal.NETWORK, Signal.GPU})

# First match wins; the text searched is "name detector rule", lower-cased.
_RULES: tuple[tuple[Signal, re.Pattern[str]], ...] = tuple(
    (sig, re.compile(rx)) for sig, rx in (
        (Signal.SILENCE, r"\babsence\b|silen|heartbeat|present_ratio"),
        (Signal.FLOW, r"per_?request|fan_?out"),
        (Signal.GPU_XID, r"xid"),
        (Signal.OOM, r"oom"),
        (Signal.RESTART, r"restart|crashloop|terminated|crash"),
        (Signal.PTP, r"ptp|clock_state|phc|gnss|freerun|holdover"),
        (Signal.CHANGE, r"deploy|rollout|generation|image_change|config_change|change_event"),
        (Signal.CPU, r"cpu"),
        (Signal.MEMORY, r"mem|rss|working_set"),
        (Signal.DISK, r"disk|filesystem|fs_|syscall|(?<![a-z])iops|io_time"),  # not "aiops_"
        # Byte counters measure load (traffic), not the health of the network.
        (Signal.TRAFFIC, r"receive_?bytes|transmit_?bytes"),
        (Signal.NETWORK, r"network|packet|sriov|dpdk|net_|netstat|retrans"),
        (Signal.GPU, r"dcgm|gpu"),
        (Signal.ERRORS, r"error|fail|success|5xx|exception|status_code"),
        # A bare ``*_seconds`` name is a latency histogram's quantile (Prometheus base
        # units: ``http_server_requests_seconds``), and its ``_sum`` is the time spent
        # serving per second (it grows with latency; ``_count`` is the traffic);
        # ``*time_seconds`` are timestamps.
        (Signal.LATENCY, r"latency|duration|response_time|rtt|p9[059]"
                         r"|(?<!time)_seconds(?:_sum)?(?=\s|$)"),
        (Signal.TRAFFIC, r"workload|request|rate|ops|throughput|calls|count"),
    )
)


def signal_of(anomaly: dict[str, Any]) -> Signal:
    """Classify an ``Anomaly`` dict by name, detector, rule and its ``reason``/``condition``
    labels (kube-state: ``reason="OOMKilled"``, ``condition="DiskPressure"``).

    >>> signal_of({"name": "PodServerLatencyP90(s)", "detector": "ewma"}).value
    'latency'
    >>> signal_of({"name": "DCGM_FI_DEV_XID_ERRORS", "detector": "rule:gpu_xid"}).value
    'gpu_xid'
    >>> [signal_of({"name": n}).value for n in ("http_server_requests_seconds",
    ...  "http_server_requests_seconds_sum", "http_server_requests_seconds_count",
    ...  "process_start_time_seconds")]
    ['latency', 'latency', 'traffic', 'other']
    """
    if anomaly.get("entity_type") == "LOG_STREAM" or str(anomaly.get("detector", "")).startswith(
        "drain"
    ):
        return Signal.LOG
    labels = anomaly.get("labels") or {}
    text = " ".join(
        [str(anomaly.get(k) or "") for k in ("name", "detector", "rule")]
        + [str(labels.get(k) or "") for k in ("reason", "condition")]
    ).lower()
    for sig, rx in _RULES:
        if rx.search(text):
            return sig
    return Signal.OTHER


def magnitude(anomaly: dict[str, Any]) -> float:
    """Strength of an anomaly: the square root of its z-like score (capped at 1e6).

    The root keeps a 400-sigma signal well above a pile of 5-sigma ones without letting
    one saturated detector drown everything else.

    >>> magnitude({"score": 16.0})
    4.0
    """
    z = float(anomaly.get("score") or 0.0)
    if not math.isfinite(z) or z < 0:
        z = 0.0 if not z > 0 else 1e6
    return math.sqrt(min(z, 1e6))


def latency_delta_ms(anomaly: dict[str, Any]) -> float:
    """``actual - expected`` of a latency anomaly in milliseconds (units from the name); 0
    for a histogram's ``_sum`` (seconds spent per second, not a latency).

    >>> latency_delta_ms({"name": "PodServerLatencyP90(s)", "actual": 0.5, "expected": 0.1})
    400.0
    """
    name = str(anomaly.get("name", "")).lower()
    if name.endswith("_sum"):
        return 0.0
    delta = float(anomaly.get("actual", 0.0)) - float(anomaly.get("expected", 0.0))
    if re.search(r"\(s\)|_seconds|_sec\b|_s$", name):
        return delta * 1000.0
    if re.search(r"\(us\)|_us$|_micro", name):
        return delta / 1000.0
    if re.search(r"\(ns\)|_ns$|_nanos", name):
        return delta / 1e6
    return delta


def evidence(kind: str, ref: str, description: str, onset_ts: int | None = None,
             magnitude_: float | None = None) -> dict[str, Any]:
    """One ``Evidence`` record."""
    return {"kind": kind, "ref": ref, "description": description, "onset_ts": onset_ts,
            "magnitude": None if magnitude_ is None else round(float(magnitude_), 6)}


def anomaly_evidence(anomaly: dict[str, Any]) -> dict[str, Any]:
    """Cite an anomaly: a SERIES record (ref = series id) for metric anomalies, else ANOMALY."""
    desc = (f"{anomaly.get('name')} {anomaly.get('type', '')} on {anomaly.get('entity')}: "
            f"{_fmt(anomaly.get('actual'))} vs expected {_fmt(anomaly.get('expected'))}")
    kind, ref = "ANOMALY", str(anomaly["anomaly_id"])
    if anomaly.get("series_id"):
        kind, ref = "SERIES", str(anomaly["series_id"])
        desc += f" (anomaly {anomaly['anomaly_id']})"
    return evidence(kind, ref, desc, int(anomaly["start_ts"]), float(anomaly.get("score") or 0.0))


def _fmt(v: Any) -> str:
    try:
        return f"{float(v):.4g}"
    except (TypeError, ValueError):
        return "?"
