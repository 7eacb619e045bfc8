"""Target discovery: static lists and file-based discovery (``file_sd_configs``).

A file holds ``[{"targets": ["host:port", ...], "labels": {...}}, ...]`` as JSON
or YAML (Prometheus' file_sd format); files are globbed and re-read when their
modification time changes. A broken file keeps the previous targets of that file
and is reported (the error is kept on the discoverer, and logged).

>>> from connectors.sources.config import JobConfig
>>> job = JobConfig(job_name="node", static_configs=[{"targets": ["a:9100"], "labels": {"z": "1"}}])
>>> [t.labels for t in Discoverer(job).targets()]
[{'z': '1', 'job': 'node', 'instance': 'a:9100'}]
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from connectors.sources.config import JobConfig
from streams.logs_setup import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Target:
    """One endpoint of a job with its target labels (job, instance and static labels)."""

    job: str
    address: str
    labels: dict[str, str] = field(hash=False, compare=True)

    @property
    def instance(self) -> str:
        return self.labels.get("instance", self.address)

    def key(self) -> tuple[str, str]:
        return (self.job, self.address)


def _target_labels(job: str, address: str, labels: dict[str, str]) -> dict[str, str]:
    out = {k: str(v) for k, v in labels.items() if not k.startswith("__")}
    out.setdefault("job", job)
    out.setdefault("instance", address)
    return out


def read_sd_file(path: Path) -> list[tuple[str, dict[str, str]]]:
    """(address, labels) pairs from one file_sd file; ValueError with the reason."""
    text = path.read_text()
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: not valid {path.suffix or 'YAML'}: {exc}") from exc
    if data is None:
        return []
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of target groups")
    out: list[tuple[str, dict[str, str]]] = []
    for i, group in enumerate(data):
        if not isinstance(group, dict) or not isinstance(group.get("targets"), list):
            raise ValueError(f"{path}: group {i} needs a 'targets' list")
        labels = group.get("labels") or {}
        if not isinstance(labels, dict):
            raise ValueError(f"{path}: group {i} 'labels' must be a mapping")
        for address in group["targets"]:
            if not isinstance(address, str) or not address:
                raise ValueError(f"{path}: group {i} has an invalid target {address!r}")
            out.append((address, {str(k): str(v) for k, v in labels.items()}))
    return out


class Discoverer:
    """The current targets of one job."""

    def __init__(self, job: JobConfig) -> None:
        self.job = job
        self._files: dict[Path, tuple[float, list[tuple[str, dict[str, str]]]]] = {}
        self.errors: dict[str, str] = {}

    def targets(self) -> list[Target]:
        """Static plus file-discovered targets, deduplicated by address (first wins)."""
        seen: dict[str, Target] = {}
        for sc in self.job.static_configs:
            for address in sc.targets:
                seen.setdefault(address, Target(self.job.job_name, address,
                                                _target_labels(self.job.job_name, address,
                                                               sc.labels)))
        for address, labels in self._file_targets():
            seen.setdefault(address, Target(self.job.job_name, address,
                                            _target_labels(self.job.job_name, address, labels)))
        return list(seen.values())

    def _file_targets(self) -> list[tuple[str, dict[str, str]]]:
        out: list[tuple[str, dict[str, str]]] = []
        current: set[Path] = set()
        for sd in self.job.file_sd_configs:
            for pattern in sd.files:
                for name in sorted(glob.glob(pattern)):
                    current.add(Path(name))
        for path in sorted(current):
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            cached = self._files.get(path)
            if cached is None or cached[0] != mtime:
                try:
                    self._files[path] = (mtime, read_sd_file(path))
                    self.errors.pop(str(path), None)
                except (ValueError, OSError) as exc:
                    if self.errors.get(str(path)) != str(exc):
                        log.error("file_sd file rejected; keeping its previous targets",
                                  job=self.job.job_name, path=str(path), error=str(exc))
                    self.errors[str(path)] = str(exc)
                    if cached is None:
                        continue
            out.extend(self._files[path][1])
        for gone in set(self._files) - current:
            del self._files[gone]
        return out
