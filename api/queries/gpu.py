"""GPU devices with latest telemetry and pod attribution, fleet summary, per-GPU history."""

from __future__ import annotations

from typing import Any

from api.db import ClickHousePool
from api.queries.sql import Where

TELEMETRY = ("gpu_util", "mem_copy_util", "gpu_temp_c", "memory_temp_c", "power_w",
             "fb_used_mib", "fb_free_mib", "sm_clock_mhz", "mem_clock_mhz", "xid_last",
             "ecc_sbe_volatile_total", "ecc_dbe_volatile_total", "sm_active", "sm_occupancy",
             "pipe_tensor_active", "dram_active", "pcie_tx_bytes", "pcie_rx_bytes",
             "nvlink_tx_bytes", "nvlink_rx_bytes", "power_violation_ns", "thermal_violation_ns")
ATTRIBUTION = ("model", "pci_bus_id", "mig_profile", "pod", "namespace", "container")


def devices(pool: ClickHousePool, *, clusters: list[str] | None, start_ms: int, end_ms: int,
            node: str | None = None, model: str | None = None, uuid: str | None = None
            ) -> list[dict[str, Any]]:
    """Latest reading of every GPU (or MIG instance) seen in the window."""
    w = Where()
    w.clusters(clusters)
    w.time_range("timestamp", start_ms, end_ms)
    for column, value in (("node", node), ("model", model), ("uuid", uuid)):
        if value:
            w.add(f"{column} = {{}}", value, "String")
    latest = ", ".join(f"argMax({c}, timestamp) AS {c}" for c in ATTRIBUTION + TELEMETRY)
    return pool.dicts(
        f"SELECT cluster, node, gpu, uuid, mig_instance_id, {latest}, "
        "toUnixTimestamp64Milli(max(timestamp)) AS last_ts FROM gpu "
        f"WHERE {w.sql} GROUP BY cluster, node, gpu, uuid, mig_instance_id "
        "ORDER BY cluster, node, gpu, mig_instance_id LIMIT 100000", w.params)


def history(pool: ClickHousePool, *, uuid: str, clusters: list[str] | None, fields: list[str],
            start_ms: int, end_ms: int, step_s: int) -> list[dict[str, Any]]:
    """Per-step averages of allow-listed ``fields`` for one GPU."""
    w = Where()
    w.clusters(clusters)
    w.add("uuid = {}", uuid, "String")
    w.time_range("timestamp", start_ms, end_ms)
    step = w.bind(step_s, "UInt32")
    cols = ", ".join(f"avg({f}) AS {f}" for f in fields)  # fields are allow-listed
    return pool.dicts(
        "SELECT toUnixTimestamp(toStartOfInterval(toDateTime(timestamp), "
        f"toIntervalSecond({step}))) * 1000 AS ts, cluster, mig_instance_id, {cols} FROM gpu "
        f"WHERE {w.sql} GROUP BY ts, cluster, mig_instance_id ORDER BY ts LIMIT 20000",
        w.params)
