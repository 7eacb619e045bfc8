"""Fleet registry shapes."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator

ClusterType = Literal["HUB", "SPOKE", "EDGE", "FAR_EDGE"]
ClusterState = Literal["ONLINE", "DEGRADED", "OFFLINE", "UNKNOWN"]
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$")


class Capabilities(BaseModel):
    gpu_count: int = Field(default=0, ge=0, le=1_000_000)
    gpu_models: list[str] = Field(default_factory=list, max_length=64)
    has_ptp: bool = False
    has_sriov: bool = False
    has_dpdk: bool = False
    has_prometheus: bool = False
    has_loki: bool = False
    has_tempo: bool = False


class ClusterSpec(BaseModel):
    """What an admin may write; status fields come from the scrapers' heartbeats."""

    type: ClusterType = "SPOKE"
    platform: str = Field(default="OPENSHIFT", max_length=64)
    version: str = Field(default="", max_length=64)
    region: str = Field(default="", max_length=128)
    environment: str = Field(default="development", max_length=64)
    labels: dict[str, str] = Field(default_factory=dict, max_length=64)
    endpoints: dict[str, str] = Field(default_factory=dict, max_length=16)
    capabilities: Capabilities = Field(default_factory=Capabilities)


class ClusterCreate(ClusterSpec):
    name: str = Field(description="DNS-1123 name, unique in the fleet", max_length=63)
    cluster_id: str | None = Field(default=None, max_length=64)

    @field_validator("name")
    @classmethod
    def _dns_name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("name must be a DNS-1123 label (a-z, 0-9, '-', '.')")
        return v


class Cluster(ClusterSpec):
    cluster_id: str
    name: str
    state: ClusterState = Field(description="Derived from heartbeats and health")
    reported_status: str = Field(description="Status the cluster's scraper last reported")
    health_score: float
    last_seen: int = Field(description="Last heartbeat, epoch ms (0: never)")
    record_version: int


class ClusterStatus(BaseModel):
    name: str
    state: ClusterState
    reported_status: str
    health_score: float
    last_seen: int
    seconds_since_heartbeat: float | None


class FleetSummary(BaseModel):
    clusters: int
    by_state: dict[str, int]
    by_type: dict[str, int]
    by_environment: dict[str, int]
    gpus: int
    gpu_clusters: int
    cnf_clusters: int
    average_health: float | None


class FleetHealth(BaseModel):
    score: float | None = Field(description="Average health of clusters not OFFLINE/UNKNOWN")
    healthy: int
    unhealthy: int
    clusters: list[ClusterStatus]
