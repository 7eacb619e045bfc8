"""GPU stage for one ``aiops.gpu`` partition: decode GpuBatch records and apply the rules."""

from __future__ import annotations

import base64
import json
from typing import Any

from schemas.codec import Codec
from streams.detect import anomalies
from streams.detect.entity_models import GPU_LIMITS, GPU_SCALES, EntityModels
from streams.detect.metric_stage import BatchResult, decode_each
from streams.detect.rules_gpu import GpuRules, GpuState

GPU_MODEL = {"scales": GPU_SCALES}  # the per-GPU models' settings, fresh or restored


class GpuStage:
    """GPU rules (and their state) for one partition."""

    codec = Codec("gpu_batch")

    def __init__(self, throttle_ratio: float = 0.1) -> None:
        self.rules = GpuRules(throttle_ratio)
        self.models = EntityModels(GPU_LIMITS, **GPU_MODEL)

    def process(self, payloads: list[bytes]) -> BatchResult:
        out = BatchResult()
        for rec in decode_each(self.codec, payloads, out):
            out.samples += len(rec["samples"])
            out.anomalies += self._models(rec)
            for breach, gpu in self.rules.check_batch(rec["node"], rec["samples"],
                                                      rec["scrape_ts"], rec["cluster"]):
                labels = {k: str(v) for k, v in gpu.items() if v is not None}
                labels["node"] = labels.get("node") or rec["node"]
                out.anomalies.append(anomalies.build(
                    cluster=rec["cluster"], name=breach.detector.split(":", 1)[1],
                    labels=labels, series_id=0, kind="THRESHOLD_BREACH", actual=1.0,
                    expected=breach.threshold, lower=breach.threshold, upper=breach.threshold,
                    z=0.0, z_on=0.0, detector=breach.detector, start_ts=breach.start_ts,
                    sample_ts=breach.start_ts, rule=breach.rule, severity=breach.severity,
                    entity=("GPU", f"{labels['node']}/{labels.get('uuid', '')}"),
                ))
        return out

    def _models(self, rec: dict[str, Any]) -> list[dict[str, Any]]:
        """Multivariate HalfSpaceTrees per GPU (utilisation, memory, temperature, power,
        clocks)."""
        found = []
        for s in rec["samples"]:
            feats = {k: s.get(k) for k in GPU_LIMITS}
            score, fire = self.models.observe(f"{s['node']}/{s['uuid']}", feats, int(s["ts"]))
            if not fire:
                continue
            labels = {k: str(s[k]) for k in ("node", "uuid", "model", "pod", "namespace",
                                             "container") if s.get(k) is not None}
            labels.update({k: f"{v:g}" for k, v in feats.items() if v is not None})
            found.append(anomalies.build(
                cluster=rec["cluster"], name="gpu_multivariate", labels=labels, series_id=0,
                kind="PATTERN_BREAK", actual=score, expected=self.models.threshold, lower=0.0,
                upper=self.models.threshold, z=score, z_on=self.models.threshold,
                detector="hst:gpu", start_ts=int(s["ts"]), sample_ts=int(s["ts"]),
                entity=("GPU", f"{s['node']}/{s['uuid']}")))
        return found

    def live_series(self) -> int:
        return len(self.rules.gpus)

    def to_bytes(self) -> bytes:
        """Rule state (a few fields per GPU) and the per-GPU models, as JSON."""
        gpus = {u: {"xid": g.xid, "dbe": g.dbe, "counters": g.counters,
                    "active": sorted(g.active), "sample": g.sample}
                for u, g in self.rules.gpus.items()}
        nodes = {n: sorted(v) for n, v in self.rules.nodes.items()}
        models = base64.b64encode(self.models.to_bytes()).decode()
        return json.dumps({"gpus": gpus, "nodes": nodes, "models": models}).encode()

    @classmethod
    def from_bytes(cls, blob: bytes, throttle_ratio: float = 0.1) -> GpuStage:
        stage = cls(throttle_ratio)
        data: dict[str, Any] = json.loads(blob.decode())
        for u, g in data["gpus"].items():
            stage.rules.gpus[u] = GpuState(g["xid"], g["dbe"],
                                       {k: (v[0], v[1]) for k, v in g["counters"].items()},
                                       set(g["active"]), g["sample"])
        stage.rules.nodes = {n: set(v) for n, v in data["nodes"].items()}
        if "models" in data:  # checkpoints before the models were kept have none
            stage.models = EntityModels.from_bytes(base64.b64decode(data["models"]), GPU_LIMITS,
                                                  **GPU_MODEL)
        return stage
