"""DCGM mapping on the shared real dcgm-exporter scrape."""

from __future__ import annotations

import pytest

from connectors.sources.config import GlobalConfig, JobConfig
from connectors.sources.dcgm import DcgmSource, field_map, is_blank
from connectors.sources.discovery import Target
from connectors.sources.exposition import ExpositionParser
from schemas.codec import Codec, raw_schema
from tests.conftest import shared_dir

GPU_DIR = shared_dir() / "samples" / "gpu_telemetry"
needs_samples = pytest.mark.skipif(not GPU_DIR.is_dir(), reason=f"{GPU_DIR} is absent")


def to_batches(body: str) -> tuple[dict[str, list[dict]], int]:
    source = DcgmSource(JobConfig(job_name="dcgm", source="dcgm"), GlobalConfig(), "c1",
                        publisher=None)  # type: ignore[arg-type] - not published here
    parsed = ExpositionParser(lambda n, labels, t: (n, labels)).parse(body, default_ts=1000)
    target = Target("dcgm", "node-a:9400", {"job": "dcgm", "instance": "node-a:9400"})
    return source.to_batches(target, 1000, parsed.entries, parsed.values, parsed.timestamps)


def test_every_typed_gpu_field_has_a_dcgm_name() -> None:
    sample = raw_schema("gpu_batch")["fields"][-1]["type"]["items"]
    numeric = {f["name"] for f in sample["fields"] if f["type"] == ["null", "double"]}
    assert numeric == set(field_map().values())
    for name in ("DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
                 "DCGM_FI_DEV_THERMAL_VIOLATION", "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL",
                 "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "DCGM_FI_DEV_CLOCKS_EVENT_REASONS"):
        assert name in field_map()


@needs_samples
def test_default_and_dcp_counters_are_all_mapped() -> None:
    for csv in ("dcgm-exporter_default-counters.csv", "dcgm-exporter_dcp-metrics-included.csv"):
        for row in (GPU_DIR / csv).read_text().splitlines():
            name = row.split(",")[0].strip()
            if not name.startswith("DCGM_FI_") or name in ("DCGM_FI_DRIVER_VERSION",
                                                           "DCGM_FI_DEV_VGPU_LICENSE_STATUS"):
                continue  # a label-only field and a licence flag go to `extra`
            assert name in field_map(), f"{csv}: {name} has no GpuSample field"


@needs_samples
def test_shared_scrape_maps_to_gpu_samples() -> None:
    body = (GPU_DIR / "datadog_dcgm_fixture_metrics.txt").read_text()
    batches, unattributed = to_batches(body)
    assert set(batches) == {"424773df46e0", "551bdf382151", "ip-11111"}
    t4 = batches["424773df46e0"][0]
    assert (t4["model"], t4["gpu"], t4["uuid"]) == (
        "Tesla T4", 0, "GPU-20c56d28-0da5-6d26-a36a-e7af1ce2586e")
    assert t4["sm_clock_mhz"] == 300 and t4["mem_clock_mhz"] == 405
    assert t4["power_w"] == pytest.approx(8.969) and t4["fb_free_mib"] == 15109
    assert t4["energy_mj"] == 128996013 and t4["gpu_util"] == 0
    assert t4["extra"]["DCGM_FI_DEV_VGPU_LICENSE_STATUS"] == 0
    assert t4["memory_temp_c"] is None  # not reported by that exporter
    a10 = batches["ip-11111"][0]
    assert a10["model"] == "NVIDIA A10G"
    assert (a10["pod"], a10["namespace"], a10["container"]) == (
        "ray-1111111", "ray-llm", "ray-worker")
    assert a10["dram_active"] == pytest.approx(0.000003)
    assert unattributed == 14  # the dummy lines without gpu/UUID labels
    codec = Codec("gpu_batch")
    for node, samples in batches.items():
        rec = {"batch_id": "b", "cluster": "c1", "source": "dcgm", "node": node,
               "scrape_ts": 1000, "samples": samples}
        assert codec.decode(codec.encode(rec))["samples"][0]["node"] == node


@needs_samples
def test_blank_sentinels_become_missing() -> None:
    excerpt = (GPU_DIR / "dcgm-exporter_README_scrape_excerpt.txt").read_text()
    body = "\n".join(ln for ln in excerpt.splitlines() if ln.startswith("DCGM_FI_"))
    assert "9223372036854775794" in body
    batches, _ = to_batches(body + "\n")
    (gpu,) = batches["node-a"]
    assert gpu["memory_temp_c"] is None
    assert gpu["sm_clock_mhz"] == 139 and gpu["mem_clock_mhz"] == 405


def test_sentinel_values() -> None:
    for blank in (9223372036854775794, 9223372036854775792, 2147483632, 2147483634,
                  140737488355328.0):
        assert is_blank(float(blank))
    for reading in (0.0, 2147483631.0, 1e15, -1.0, 12.5):
        assert not is_blank(reading)


def test_mig_instances_are_separate_gpu_samples() -> None:
    base = ('gpu="0",UUID="GPU-aaa",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",'
            'Hostname="gpu-node-1",pci_bus_id="00000000:07:00.0"')
    body = "\n".join([
        f'DCGM_FI_PROF_SM_ACTIVE{{{base},GPU_I_PROFILE="1g.10gb",GPU_I_ID="7",'
        f'pod="train-0",namespace="ml",container="worker"}} 0.5',
        f'DCGM_FI_DEV_FB_USED{{{base},GPU_I_PROFILE="1g.10gb",GPU_I_ID="7",'
        f'pod="train-0",namespace="ml",container="worker"}} 2048',
        f'DCGM_FI_PROF_SM_ACTIVE{{{base},GPU_I_PROFILE="3g.40gb",GPU_I_ID="2"}} 0.25',
        f'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL{{{base},GPU_I_PROFILE="3g.40gb",GPU_I_ID="2"}} '
        "9223372036854775794",
        f'DCGM_FI_DEV_THERMAL_VIOLATION{{{base},GPU_I_PROFILE="3g.40gb",GPU_I_ID="2"}} 1500',
    ]) + "\n"
    batches, unattributed = to_batches(body)
    assert unattributed == 0
    by_mig = {s["mig_instance_id"]: s for s in batches["gpu-node-1"]}
    small, big = by_mig["7"], by_mig["2"]
    assert small["mig_profile"] == "1g.10gb" and small["sm_active"] == 0.5
    assert small["fb_used_mib"] == 2048 and small["pod"] == "train-0"
    assert (small["namespace"], small["container"]) == ("ml", "worker")
    assert big["mig_profile"] == "3g.40gb" and big["pod"] is None
    assert big["ecc_dbe_volatile_total"] is None  # blank sentinel, not a reading
    assert big["thermal_violation_ns"] == 1500 and big["pci_bus_id"] == "00000000:07:00.0"
    assert small["uuid"] == big["uuid"] == "GPU-aaa"
