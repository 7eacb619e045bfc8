"""Typed arguments of the chat/MCP tools (pydantic; unknown fields are refused)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Text = Annotated[str, Field(min_length=1, max_length=256)]
Severity = Literal["INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
Level = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "UNKNOWN"]


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Window(Args):
    cluster: list[Text] | None = Field(None, max_length=50,
                                       description="Clusters to read (default: all visible)")
    since_minutes: int = Field(60, ge=1, le=43_200, description="Look back this many minutes")


class NoArgs(Args):
    pass


class ClusterList(Args):
    name: Text | None = Field(None, description="Substring of the cluster name")
    state: Literal["ONLINE", "DEGRADED", "OFFLINE", "UNKNOWN"] | None = None
    has_gpu: bool | None = None
    has_cnf: bool | None = None


class ClusterName(Args):
    cluster: Text


class MetricQuery(Window):
    name: Text = Field(description="Metric name, e.g. node_load1")
    match: list[Annotated[str, Field(max_length=512)]] = Field(
        default_factory=list, max_length=20, description='Label matchers: job="api", pod=~"web-.*"')
    step_s: int = Field(300, ge=15, le=86_400, description="Step in seconds")
    agg: Literal["avg", "sum", "min", "max"] = "avg"
    by: list[Text] = Field(default_factory=list, max_length=10,
                           description="Group by 'cluster' or label names")


class MetricLabels(Args):
    cluster: list[Text] | None = Field(None, max_length=50)
    name: Text | None = Field(None, description="Only labels of this metric")
    label: Text | None = Field(None, description="List this label's values instead of names")


class TraceSearch(Window):
    service: Text | None = None
    operation: Text | None = None
    status: Literal["UNSET", "OK", "ERROR"] | None = None
    min_duration_ms: float | None = Field(None, ge=0, le=1e9)
    limit: int = Field(20, ge=1, le=100)


class TraceId(Args):
    trace_id: Annotated[str, Field(min_length=1, max_length=64)]


class LogQuery(Window):
    namespace: Text | None = None
    pod: Text | None = None
    app: Text | None = None
    contains: Annotated[str, Field(max_length=1024)] | None = Field(
        None, description="Substring of the log line")
    level: list[Level] = Field(default_factory=list, max_length=7)
    limit: int = Field(50, ge=1, le=500)


class LogPatterns(Window):
    namespace: Text | None = None
    app: Text | None = None
    level: list[Level] = Field(default_factory=list, max_length=7)
    limit: int = Field(20, ge=1, le=200)


class AlertQuery(Window):
    severity: list[Text] = Field(default_factory=list, max_length=10)
    state: list[Literal["FIRING", "RESOLVED"]] = Field(default_factory=list, max_length=2)
    limit: int = Field(50, ge=1, le=200)


class AnomalyQuery(Window):
    severity: list[Severity] = Field(default_factory=list, max_length=5)
    limit: int = Field(50, ge=1, le=200)


class IncidentId(Args):
    incident_id: Text
