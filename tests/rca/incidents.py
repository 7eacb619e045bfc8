"""Hand-made incidents for the ranking tests."""

from __future__ import annotations

from typing import Any

T0 = 1_700_000_000_000


def anomaly(entity_type: str, entity: str, name: str, *, score: float = 8.0, at_s: int = 0,
            actual: float = 1.0, expected: float = 0.0, **labels: str) -> dict[str, Any]:
    """One ``Anomaly`` dict (anomaly.avsc) starting ``at_s`` seconds after ``T0``."""
    start = T0 + at_s * 1000
    return {
        "anomaly_id": f"{entity}|{name}|{at_s}", "cluster": "c1", "entity_type": entity_type,
        "entity": entity, "name": name, "labels": dict(labels), "series_id": 0,
        "type": "SPIKE", "actual": actual, "expected": expected, "lower": expected,
        "upper": expected, "score": score, "confidence": 0.9, "severity": "HIGH",
        "detector": "metric", "rule": None, "start_ts": start, "sample_ts": start,
        "detected_ts": start,
    }
