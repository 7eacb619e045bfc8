"""Metric shapes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.models.common import ClusterCoverage


class Series(BaseModel):
    cluster: str
    name: str
    series_id: int
    labels: dict[str, str]


class Values(BaseModel):
    values: list[str]


class RangeSeries(BaseModel):
    labels: dict[str, str] = Field(description="Values of the `by` groups")
    points: list[list[float | None]] = Field(description="[epoch ms, value] pairs")


class RangeResult(BaseModel):
    metric: str
    aggregation: str
    step: int
    start: int
    end: int
    resolution: str = Field(description="raw, 1m or 1h: the table that served the query")
    series: list[RangeSeries]
    clusters: list[ClusterCoverage] = Field(description="Per-cluster outcome")
    partial: bool = Field(description="True when a requested cluster returned no data")
