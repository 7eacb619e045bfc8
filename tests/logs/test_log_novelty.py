"""Online signals: new templates, per-template rate spikes, error bursts."""

from __future__ import annotations

import numpy as np

from streams.logs.novelty import (
    ErrorBurstDetector,
    NewTemplateDetector,
    WindowRateMonitor,
    infer_level,
    is_error,
)


def test_new_template_after_warmup() -> None:
    d = NewTemplateDetector(warmup=3)
    assert [d.observe(t) for t in ["a", "b", "a", "c", "c", "a"]] == [
        False, False, False, True, False, False]


def test_rate_spike_only_for_the_spiking_template() -> None:
    rng = np.random.default_rng(0)
    m = WindowRateMonitor(warmup_windows=5)
    for _ in range(30):
        window = ["a"] * int(rng.poisson(100)) + ["b"] * int(rng.poisson(5))
        assert m.update(window) == []
    spikes = m.update(["a"] * 100 + ["b"] * 60)
    assert [s.key for s in spikes] == ["b"]
    assert spikes[0].count == 60 and spikes[0].score > m.k


def test_no_spike_during_warmup_or_for_tiny_counts() -> None:
    m = WindowRateMonitor(warmup_windows=2, min_count=5)
    assert m.update(["a"] * 100) == []
    assert m.update(["a"]) == []
    assert m.update(["a"] * 4 + ["new"] * 4) == []  # under min_count


def test_error_burst() -> None:
    d = ErrorBurstDetector(warmup_windows=3)
    for _ in range(10):
        assert d.update(["INFO"] * 100 + ["ERROR"] * 2) is None
    burst = d.update(["INFO"] * 100 + ["ERROR"] * 40)
    assert burst is not None and burst.count == 40


def test_level_inference() -> None:
    assert infer_level("anything", parsed=" warn ") == "WARN"
    assert infer_level("2024 ERROR db down") == "ERROR"
    assert infer_level("java.lang.NullPointerException thrown") == "ERROR"
    assert infer_level("terror movie night") == "INFO"
    assert infer_level("Unhandled exception in worker") == "ERROR"
    assert infer_level("Connection timed out") == "ERROR"
    assert is_error("fatal") and not is_error("INFO")
