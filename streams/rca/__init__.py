"""Deterministic root-cause ranking (no LLM): candidates, evidence, graph, patterns, ranking."""

from streams.rca.context import DependencyEdge, IncidentContext, LogEvent, TraceEvidence
from streams.rca.ranking import RankingConfig, rank

__all__ = [
    "DependencyEdge",
    "IncidentContext",
    "LogEvent",
    "RankingConfig",
    "TraceEvidence",
    "rank",
]
