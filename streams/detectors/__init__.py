"""Vectorised online per-series anomaly detectors (numpy state, one sample per call)."""

from streams.detectors.base import Sensitivity, StreamingDetector
from streams.detectors.cooldown import AlertGate, suppress_repeats
from streams.detectors.ewma import EwmaDetector
from streams.detectors.levelshift import LevelShiftDetector
from streams.detectors.metric import MetricDetector
from streams.detectors.novelty import NoveltyDetector
from streams.detectors.robust import RobustDetector
from streams.detectors.seasonal import SeasonalDetector

__all__ = [
    "AlertGate",
    "EwmaDetector",
    "LevelShiftDetector",
    "MetricDetector",
    "NoveltyDetector",
    "RobustDetector",
    "SeasonalDetector",
    "Sensitivity",
    "StreamingDetector",
    "suppress_repeats",
]
