"""Telco CNF views over the metric history: PTP state per interface, SR-IOV and DPDK counters."""

from __future__ import annotations

from typing import Any

from api.db import ClickHousePool
from api.queries.rollups import source as rollup_source
from api.queries.sql import Where
from connectors.sources.cnf import CLOCK_STATES, DPDK_METRICS, PTP_PREFIX, SRIOV_METRICS

PTP_FIELDS = {f"{PTP_PREFIX}{n}": n for n in ("offset_ns", "max_offset_ns", "delay_ns",
                                                  "clock_state", "clock_class",
                                                  "interface_role", "process_status")}


def _latest(pool: ClickHousePool, *, clusters: list[str] | None, names: list[str],
            start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    w = Where()
    w.clusters(clusters)
    w.add("name IN {}", names, "Array(String)")
    w.time_range("timestamp", start_ms, end_ms)
    src = rollup_source(pool, "metrics_1m", w, ["last"])  # + samples not rolled up yet
    rows = pool.dicts(
        "SELECT cluster, name, series_id, argMaxMerge(last) AS value,"
        f" toUnixTimestamp(max(timestamp)) * 1000 AS ts FROM {src}"
        " GROUP BY cluster, name, series_id ORDER BY cluster, series_id"
        " LIMIT 20000", w.params)
    s = Where()
    s.clusters(clusters)
    s.add("name IN {}", names, "Array(String)")
    s.add("series_id IN {}", [r["series_id"] for r in rows], "Array(Int64)")
    labels = dict(pool.rows(f"SELECT series_id, labels FROM series FINAL WHERE {s.sql}",
                            s.params)) if rows else {}
    for r in rows:
        r["labels"] = dict(labels.get(r["series_id"], {}))
    return rows


def ptp(pool: ClickHousePool, *, clusters: list[str] | None, start_ms: int, end_ms: int
        ) -> list[dict[str, Any]]:
    """One row per (cluster, node, interface): state, offset, clock class, role."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in _latest(pool, clusters=clusters, names=list(PTP_FIELDS), start_ms=start_ms,
                     end_ms=end_ms):
        labels = r["labels"]
        key = (r["cluster"], labels.get("node", ""), labels.get("iface", ""))
        row = out.setdefault(key, {"cluster": key[0], "node": key[1], "interface": key[2],
                                   "last_ts": 0})
        field = PTP_FIELDS[r["name"]]
        row[field] = r["value"]
        row["last_ts"] = max(row["last_ts"], int(r["ts"]))
    for row in out.values():
        state = row.get("clock_state")
        row["state"] = CLOCK_STATES.get(int(state), "UNKNOWN") if state is not None else None
    return [out[k] for k in sorted(out)]


def counters(pool: ClickHousePool, *, family: str, clusters: list[str] | None, start_ms: int,
             end_ms: int) -> list[dict[str, Any]]:
    """Latest SR-IOV VF or DPDK port counters grouped by label set."""
    names = list(SRIOV_METRICS if family == "sriov" else DPDK_METRICS)
    out: dict[tuple, dict[str, Any]] = {}
    for r in _latest(pool, clusters=clusters, names=names, start_ms=start_ms, end_ms=end_ms):
        key = (r["cluster"], tuple(sorted(r["labels"].items())))
        row = out.setdefault(key, {"cluster": r["cluster"], "labels": dict(r["labels"]),
                                   "counters": {}, "last_ts": 0})
        row["counters"][r["name"]] = r["value"]
        row["last_ts"] = max(row["last_ts"], int(r["ts"]))
    return [out[k] for k in sorted(out)]
