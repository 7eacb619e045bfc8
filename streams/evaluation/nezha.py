"""Nezha Online Boutique data (../shared/eval/nezha-ob) loaded into our shapes.

* per-pod metrics each minute -> one series per (pod, column), POD entity; per-edge
  latency (``source_50``/``destination_50``) -> EDGE series (client and server side);
  the frontend SLI (``front_service.csv``) -> SERVICE series;
* OpenTelemetry spans of each minute -> :class:`streams.rca.spans.SpanTable`;
* ``dependency.csv`` -> :class:`streams.rca.context.DependencyEdge` list;
* fault lists -> :class:`FaultCase` (labels, only for scoring after prediction).

Times: the data's epoch times are UTC; each fault's ``inject_time`` string is read as UTC
(its ``inject_timestamp`` is 8 h off and is ignored).  Node-level columns are left out:
the data does not say which node a pod ran on.
"""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv

from streams.evaluation.incident_window import SeriesInfo
from streams.rca.context import DependencyEdge
from streams.rca.spans import SpanTable

REPO = Path(__file__).resolve().parents[2]
_SKIP = ("Time", "TimeStamp", "PodName")


def data_dir() -> Path:
    """``$AIOPS_SHARED_DIR/eval/nezha-ob`` or ``<repo>/../shared/eval/nezha-ob``."""
    return Path(os.environ.get("AIOPS_SHARED_DIR", REPO.parent / "shared")) / "eval" / "nezha-ob"


def service_of_pod(pod: str) -> str:
    """Deployment pods are ``<service>-<replicaset hash>-<pod hash>``."""
    parts = pod.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else pod


@dataclass(frozen=True)
class FaultCase:
    """One injected fault (the label: read it only to score a prediction)."""

    day: str
    inject_ms: int
    pod: str
    fault_type: str

    @property
    def service(self) -> str:
        return service_of_pod(self.pod)


@dataclass
class MetricFrame:
    """Minute-aligned metric matrix: ``values[t, j]`` for series ``series[j]``."""

    ts_ms: np.ndarray
    series: list[SeriesInfo]
    values: np.ndarray


def days(root: Path | None = None) -> list[str]:
    """Days that have both a fault list and metric data."""
    root = root or data_dir()
    return sorted(p.name for p in root.iterdir()
                  if (p / "metric").is_dir() and (p / f"{p.name}-fault_list.json").is_file())


def fault_cases(day: str, root: Path | None = None) -> list[FaultCase]:
    """The day's faults in inject order."""
    root = root or data_dir()
    raw = json.loads((root / day / f"{day}-fault_list.json").read_text())
    out = []
    for hour in sorted(raw):
        for f in raw[hour]:
            t = dt.datetime.strptime(f["inject_time"], "%Y-%m-%d %H:%M:%S")
            ms = int(t.replace(tzinfo=dt.UTC).timestamp() * 1000)
            out.append(FaultCase(day, ms, f["inject_pod"], f["inject_type"]))
    return sorted(out, key=lambda c: c.inject_ms)


def _num(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        return float("nan")


def _minute(time_text: str) -> int:
    """Collection round (ms) of a row from its ``Time`` text (UTC).

    Rows come every minute at second ~19-20; some pods' rows come later in the minute.
    The ``TimeStamp`` column is not used: one pod's file has it off by 2e8 s.
    """
    t = dt.datetime.strptime(time_text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    s = int(t.timestamp())
    return ((s - 19) // 60 * 60 + 19) * 1000


def load_metrics(day: str, root: Path | None = None) -> MetricFrame:
    """Every per-minute series of the day, aligned on whole minutes."""
    mdir = (root or data_dir()) / day / "metric"
    cols: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], dict[int, float]] = {}
    for path in sorted(mdir.glob("*_metric.csv")):
        with path.open() as fh:
            for row in csv.DictReader(fh):
                pod = row["PodName"]
                svc = service_of_pod(pod)
                labels = {"pod": pod, "service": svc}
                for col, val in row.items():
                    if col in _SKIP or col.startswith("Node"):
                        continue
                    side = {"side": "client"} if col.startswith("PodClient") else {}
                    info = (col, "POD", pod, tuple(sorted({**labels, **side}.items())))
                    cols.setdefault(info, {})[_minute(row["Time"])] = _num(val)
    for fname, side in (("source_50.csv", "client"), ("destination_50.csv", "server")):
        with (mdir / fname).open() as fh:
            for row in csv.DictReader(fh):
                for col, val in row.items():
                    if col in ("time", "timestamp"):
                        continue
                    src, dst = col.split("_", 1)
                    labels = (("side", side), ("source", src), ("target", dst))
                    info = ("EdgeLatencyP50(s)", "EDGE", f"{src}->{dst}", labels)
                    cols.setdefault(info, {})[_minute(row["time"])] = _num(val)
    with (mdir / "front_service.csv").open() as fh:
        for row in csv.DictReader(fh):
            for col, val in row.items():
                if col in ("Time", "TimeStamp", "ServiceName"):
                    continue
                info = (f"Frontend{col}", "SERVICE", "frontend", (("service", "frontend"),))
                cols.setdefault(info, {})[_minute(row["Time"])] = _num(val)
    keys = sorted(cols, key=lambda k: (k[1], k[2], k[0], k[3]))
    infos = [SeriesInfo(k[0], k[1], k[2], dict(k[3])) for k in keys]
    ts = np.array(sorted({t for c in cols.values() for t in c}), dtype=np.int64)
    pos = {t: i for i, t in enumerate(ts.tolist())}
    values = np.full((len(ts), len(infos)), np.nan)
    for j, key in enumerate(keys):
        for t, v in cols[key].items():
            values[pos[t], j] = v
    return MetricFrame(ts, infos, values)


def load_dependencies(day: str, root: Path | None = None) -> list[DependencyEdge]:
    """Static service -> service edges of the day.

    Rows whose target is a bare IP address (one per service, shared by some) name hosts,
    not called services; they are left out of the call graph.
    """
    path = (root or data_dir()) / day / "metric" / "dependency.csv"
    with path.open() as fh:
        return [DependencyEdge(r["Source"], r["Target"]) for r in csv.DictReader(fh)
                if not _is_ip(r["Target"])]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def trace_files(day: str, start_ms: int, end_ms: int, root: Path | None = None) -> list[Path]:
    """Minute trace files overlapping ``[start_ms, end_ms)``.

    File ``HH_MM`` holds the spans started in ``[HH:MM-1:19, HH:MM:19)`` (observed).
    """
    tdir = (root or data_dir()) / day / "trace"
    out = []
    t = (start_ms // 60_000) * 60_000
    while t < end_ms + 60_000:
        p = tdir / dt.datetime.fromtimestamp(t / 1000, dt.UTC).strftime("%H_%M_trace.csv.gz")
        if p.is_file() and p not in out:
            out.append(p)
        t += 60_000
    return out


def load_spans(paths: list[Path]) -> SpanTable:
    """Spans of the given minute files (empty files are skipped)."""
    tables = []
    for p in paths:
        if p.stat().st_size < 64:
            continue
        try:
            tables.append(pacsv.read_csv(p))
        except Exception as exc:  # pyarrow raises ArrowInvalid for an empty CSV body
            if "Empty CSV" in str(exc):
                continue
            raise
    if not tables:
        empty = np.array([], dtype=object)
        return SpanTable(empty, empty, empty, np.array([], np.int64), np.array([], np.int64),
                         np.array([], bool), empty)
    cols = {c: np.concatenate([t.column(c).to_numpy(zero_copy_only=False) for t in tables])
            for c in ("TraceID", "SpanID", "ParentID", "PodName", "StartTimeUnixNano",
                      "Duration")}
    pods = cols["PodName"].astype(str)
    services = np.array([service_of_pod(p) for p in pods.tolist()], dtype=object)
    start = cols["StartTimeUnixNano"].astype(np.int64)
    # Duration is in microseconds (end - start in ns / 1000).
    dur_ns = cols["Duration"].astype(np.int64) * 1000
    return SpanTable(cols["SpanID"].astype(object), cols["ParentID"].astype(object), services,
                     start, dur_ns, np.zeros(len(start), dtype=bool),
                     cols["TraceID"].astype(object))
