"""NVIDIA dcgm-exporter scrape -> GpuBatch on aiops.gpu (one per node and scrape).

Every ``DCGM_FI_*`` field named in GpuSample's schema docs (all default counters,
DCP profiling, ECC, retired pages, remapped rows, throttle violations, NVLink
errors) lands in its typed field; any other ``DCGM_FI_*`` numeric field goes to
``extra`` by its DCGM name. Samples are grouped per GPU / MIG instance by
(Hostname, gpu, UUID, GPU_I_ID); pod/namespace/container come from whichever
line of that GPU carries the attribution (``exported_*`` forms accepted).

DCGM reports "blank" readings as sentinels (int32 0x7ffffff0.., int64
0x7ffffffffffffff0.. such as 9223372036854775794, fp64 2^47..): they become
missing (null), never readings. Lines without gpu/UUID labels cannot be
attributed to a GPU; they are counted as dropped (reason ``no_gpu``) and logged.
The target's ``up``/``scrape_*`` self-samples go to aiops.metrics as usual.
"""

from __future__ import annotations

import re
import time
import uuid
from functools import lru_cache

from connectors.sources.base import ScrapeError, ScrapeOutcome
from connectors.sources.discovery import Target
from connectors.sources.exposition import OPENMETRICS_CONTENT_TYPE, ExpositionError
from connectors.sources.exposition import ExpositionParser as _Parser
from connectors.sources.prometheus import SELF_SAMPLES, PrometheusSource
from schemas.codec import Codec, raw_schema
from schemas.topics import topic_by_name
from streams.logs_setup import get_logger

log = get_logger(__name__)

GPU_TOPIC = topic_by_name("aiops.gpu").name
INT32_BLANKS = {2147483632.0, 2147483633.0, 2147483634.0, 2147483635.0}
INT64_BLANK_MIN = 9223372036854775792.0  # 0x7ffffffffffffff0 (as a double, 2^63)
FP64_BLANK_MIN, FP64_BLANK_MAX = 140737488355328.0, 140737488355331.0  # DCGM_FP64_BLANK..
ALIASES = {"DCGM_FI_DEV_CLOCKS_EVENT_REASONS": "clock_throttle_reasons"}


def is_blank(value: float) -> bool:
    """True for a DCGM blank / not-found / not-supported sentinel.

    >>> is_blank(9223372036854775794), is_blank(2147483632), is_blank(42.0)
    (True, True, False)
    """
    value = float(value)  # an int 0x7ffffffffffffff2 is below the double 2^63 it parses to
    return (value >= INT64_BLANK_MIN or value in INT32_BLANKS
            or FP64_BLANK_MIN <= value <= FP64_BLANK_MAX)


@lru_cache(maxsize=1)
def field_map() -> dict[str, str]:
    """DCGM field name -> GpuSample field, read from the schema's field docs."""
    sample = raw_schema("gpu_batch")["fields"][-1]["type"]["items"]
    out: dict[str, str] = {}
    for f in sample["fields"]:
        m = re.match(r"(DCGM_FI_[A-Z0-9_]+)", f.get("doc", ""))
        if m and f["name"] != "extra":
            out[m.group(1)] = f["name"]
    out.update(ALIASES)
    return out


class DcgmSource(PrometheusSource):
    """Scrapes dcgm-exporter and publishes GpuBatches."""

    kind = "dcgm"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind = "dcgm"
        self.codec = Codec("gpu_batch")
        self.parsers: dict[tuple[str, str], _Parser[tuple[str, dict[str, str]]]] = {}

    def forget(self, key: tuple[str, str]) -> None:
        super().forget(key)
        self.parsers.pop(key, None)

    async def collect(self, target: Target, ts: int) -> ScrapeOutcome:
        t0 = time.perf_counter()
        resp = await self.fetch(target)
        om = resp.headers.get("content-type", "").startswith(OPENMETRICS_CONTENT_TYPE)
        return self.ingest(target, ts, resp.text, om, t0)

    def ingest(self, target: Target, ts: int, body: str, openmetrics: bool,
               t0: float) -> ScrapeOutcome:
        parser = self.parsers.get(target.key())
        if parser is None:
            parser = _Parser(lambda name, labels, _t: (name, labels))
            self.parsers[target.key()] = parser
        try:
            parsed = parser.parse(body, default_ts=ts, openmetrics=openmetrics)
        except ExpositionError as exc:
            raise ScrapeError("parse", str(exc)) from exc
        batches, unattributed = self.to_batches(target, ts, parsed.entries, parsed.values,
                                                parsed.timestamps)
        if unattributed:
            if self.metrics is not None:
                self.metrics.dropped.labels(self.kind, self.job.job_name, "no_gpu").inc(
                    unattributed)
            log.warning("dcgm lines without gpu/UUID labels dropped", target=target.address,
                        samples=unattributed)
        gpus: dict[str, str] = {}
        for node, samples in batches.items():
            record = {"batch_id": uuid.uuid4().hex, "cluster": self.cluster, "source": "dcgm",
                      "node": node, "scrape_ts": ts, "samples": samples}
            self.publisher.publish(GPU_TOPIC, f"{self.cluster}/{node}".encode(),
                                   self.codec.encode(record))
            for s in samples:
                gpus[s["uuid"]] = s["model"]
        n = len(parsed.entries)
        st = self.state(target)
        duration = time.perf_counter() - t0
        PrometheusSource.publish(self, target, ts, st.self_entries,
                                 [1.0, duration, float(n), float(parsed.new_series)],
                                 [ts] * len(SELF_SAMPLES))
        return ScrapeOutcome(target, ts, True, duration, samples=n,
                             published=n - unattributed, capabilities={"dcgm"} if gpus else set(),
                             gpus=gpus)

    def to_batches(self, target: Target, ts: int, entries: list[tuple[str, dict[str, str]]],
                   values: list[float], timestamps: list[int]
                   ) -> tuple[dict[str, list[dict]], int]:
        """GpuSamples grouped by node; also the number of unattributable samples."""
        fields = field_map()
        gpus: dict[tuple, dict] = {}
        unattributed = 0
        for (name, labels), value, sts in zip(entries, values, timestamps, strict=True):
            if not name.startswith("DCGM_FI_"):
                continue
            if "gpu" not in labels or "UUID" not in labels:
                unattributed += 1
                continue
            node = labels.get("Hostname") or target.address.rsplit(":", 1)[0]
            key = (node, labels["gpu"], labels["UUID"], labels.get("GPU_I_ID"))
            rec = gpus.get(key)
            if rec is None:
                rec = gpus[key] = self._new_sample(node, labels, sts)
            for attr in ("pod", "namespace", "container"):
                if rec[attr] is None:
                    rec[attr] = labels.get(attr) or labels.get("exported_" + attr) or None
            reading = None if is_blank(value) or value != value else float(value)
            field = fields.get(name)
            if field is not None:
                rec[field] = reading
            elif reading is not None:
                rec["extra"][name] = reading
        out: dict[str, list[dict]] = {}
        for (node, *_), rec in gpus.items():
            out.setdefault(node, []).append(rec)
        return out, unattributed

    @staticmethod
    def _new_sample(node: str, labels: dict[str, str], ts: int) -> dict:
        try:
            gpu = int(labels["gpu"])
        except ValueError:
            gpu = -1
        rec: dict = {name: None for name in field_map().values()}
        rec.update({
            "ts": ts, "node": node, "gpu": gpu, "uuid": labels["UUID"],
            "model": labels.get("modelName", ""), "pci_bus_id": labels.get("pci_bus_id"),
            "mig_profile": labels.get("GPU_I_PROFILE"), "mig_instance_id": labels.get("GPU_I_ID"),
            "pod": None, "namespace": None, "container": None, "extra": {},
        })
        return rec
