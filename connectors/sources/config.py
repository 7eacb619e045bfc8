"""Scrape configuration (YAML): a Prometheus-like ``scrape_configs`` subset plus the
cluster identity the registry feed publishes.

>>> cfg = ScrapeConfig.model_validate({"cluster": {"name": "spoke-1"}, "scrape_configs": [
...     {"job_name": "node", "static_configs": [{"targets": ["127.0.0.1:9100"]}]}]})
>>> job = cfg.scrape_configs[0]
>>> (job.source, job.interval_s(cfg.global_), job.metrics_path)
('prometheus', 60.0, '/metrics')
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")


def parse_duration(text: str | float | int) -> float:
    """Prometheus duration (``1h30m``, ``15s``, ``500ms``) or a number of seconds."""
    if isinstance(text, int | float):
        return float(text)
    m = _DURATION.match(text.strip())
    if not text.strip() or m is None or not any(m.groups()):
        raise ValueError(f"invalid duration {text!r} (use e.g. 15s, 1m, 500ms)")
    h, mnt, s, ms = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mnt * 60 + s + ms / 1000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TLSConfig(_Strict):
    """Client TLS options for a job."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure_skip_verify: bool = False


class StaticConfig(_Strict):
    targets: list[str]
    labels: dict[str, str] = Field(default_factory=dict)


class FileSDConfig(_Strict):
    """Files (JSON or YAML) holding ``[{targets: [...], labels: {...}}]``; re-read on change."""

    files: list[str]
    refresh_interval: str = "5m"


class PromQuery(_Strict):
    """One curated PromQL expression pulled through ``/api/v1/query``."""

    record: str = Field(description="Metric name the result samples get (like a recording rule).")
    expr: str


class GlobalConfig(_Strict):
    scrape_interval: str = "1m"
    scrape_timeout: str = "10s"


class JobConfig(_Strict):
    """One ``scrape_configs`` entry."""

    job_name: str
    source: Literal["prometheus", "federate", "query", "dcgm", "cnf"] = "prometheus"
    scrape_interval: str | None = None
    scrape_timeout: str | None = None
    metrics_path: str = "/metrics"
    scheme: Literal["http", "https"] = "http"
    honor_labels: bool = False
    params: dict[str, list[str]] = Field(default_factory=dict)
    bearer_token: str | None = None
    bearer_token_file: Path | None = None
    tls_config: TLSConfig = Field(default_factory=TLSConfig)
    static_configs: list[StaticConfig] = Field(default_factory=list)
    file_sd_configs: list[FileSDConfig] = Field(default_factory=list)
    queries: list[PromQuery] = Field(default_factory=list)
    sample_limit: int = Field(default=0, description="Fail a scrape above this many samples.")

    @field_validator("scrape_interval", "scrape_timeout")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v

    @model_validator(mode="after")
    def _check(self) -> JobConfig:
        if self.source == "query" and not self.queries:
            raise ValueError(f"job {self.job_name}: source 'query' needs 'queries'")
        if self.bearer_token and self.bearer_token_file:
            raise ValueError(f"job {self.job_name}: bearer_token and bearer_token_file clash")
        return self

    def interval_s(self, glob: GlobalConfig) -> float:
        return parse_duration(self.scrape_interval or glob.scrape_interval)

    def timeout_s(self, glob: GlobalConfig) -> float:
        timeout = parse_duration(self.scrape_timeout or glob.scrape_timeout)
        return min(timeout, self.interval_s(glob))

    def token(self) -> str | None:
        """The bearer token, read from its file each time (rotated tokens are picked up)."""
        if self.bearer_token_file is not None:
            return self.bearer_token_file.read_text().strip()
        return self.bearer_token


class ClusterIdentity(_Strict):
    """What the registry feed says about this cluster."""

    name: str
    cluster_id: str | None = None
    type: Literal["HUB", "SPOKE", "EDGE", "FAR_EDGE"] = "SPOKE"
    platform: str = "OPENSHIFT"
    version: str = ""
    region: str = ""
    environment: Literal["production", "staging", "development", "lab"] = "production"
    labels: dict[str, str] = Field(default_factory=dict)
    endpoints: dict[str, str] = Field(default_factory=dict)


class ScrapeConfig(_Strict):
    """The whole ``aiops scrape`` configuration file."""

    cluster: ClusterIdentity
    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    scrape_configs: list[JobConfig] = Field(default_factory=list)
    heartbeat_interval: str = "30s"

    @model_validator(mode="after")
    def _unique_jobs(self) -> ScrapeConfig:
        names = [j.job_name for j in self.scrape_configs]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate job_name: {sorted(dupes)}")
        return self

    @classmethod
    def load(cls, path: Path) -> ScrapeConfig:
        """Read and validate a YAML file (errors name the offending field)."""
        data = yaml.safe_load(Path(path).read_text()) or {}
        return cls.model_validate(data)
