"""NAB scorer: hand-made window/sigmoid cases and reproduction of published scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streams.evaluation import nab

STD = nab.STANDARD_PROFILES["standard"]


def test_probation_length_rule() -> None:
    assert nab.probation_length(1000) == 150
    assert nab.probation_length(4032) == 604
    assert nab.probation_length(22695) == 750  # capped at 0.15 * 5000


def test_scaled_sigmoid_values() -> None:
    s = nab.scaled_sigmoid(np.array([-1.0, -0.5, 0.0, 1.0, 2.99, 3.0, 10.0]))
    assert s[0] == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert s[1] == pytest.approx(0.84828, abs=1e-5)
    assert s[2] == 0.0
    assert s[3] == pytest.approx(-s[0])
    assert s[4] > -1.0
    assert s[5] == -1.0 and s[6] == -1.0


def _file(n: int = 1000) -> tuple[tuple[int, int], ...]:
    return ((500, 599),)  # probation is rows 0..149


def test_earliest_detection_in_window_gets_full_weight() -> None:
    scores = np.zeros(1000)
    scores[500] = 1.0
    raw, counts = nab.score_file(scores, _file(), STD, 0.5)
    assert raw == pytest.approx(1.0)
    assert counts == {"tp": 1, "fp": 0, "fn": 99, "tn": 850 - 100}


def test_later_detection_is_worth_less_and_only_first_counts() -> None:
    late = np.zeros(1000)
    late[590] = 1.0
    both = late.copy()
    both[550] = 1.0
    raw_late, _ = nab.score_file(late, _file(), STD, 0.5)
    raw_both, _ = nab.score_file(both, _file(), STD, 0.5)
    expected = float(nab.scaled_sigmoid(-(599 - 590 + 1) / 100) / nab.scaled_sigmoid(-1.0))
    assert raw_late == pytest.approx(expected)
    assert raw_both > raw_late  # the earlier of two detections is what counts
    assert raw_both == pytest.approx(
        float(nab.scaled_sigmoid(-(599 - 550 + 1) / 100) / nab.scaled_sigmoid(-1.0)))


def test_missed_window_and_false_positives() -> None:
    scores = np.zeros(1000)
    raw, _ = nab.score_file(scores, _file(), STD, 0.5)
    assert raw == -1.0  # null detector: -fnWeight per window
    scores[300] = 1.0  # FP before any window: -fpWeight
    scores[100] = 1.0  # inside probation: ignored
    scores[620] = 1.0  # FP shortly after the window: discounted by the sigmoid
    raw, counts = nab.score_file(scores, _file(), STD, 0.5)
    after = 0.11 * float(nab.scaled_sigmoid((620 - 599) / 99))
    assert raw == pytest.approx(-1.0 - 0.11 + after)
    assert -0.11 < after < 0
    assert counts["fp"] == 2


def test_sweep_matches_direct_scoring_at_every_threshold() -> None:
    rng = np.random.default_rng(0)
    files = [(rng.random(1000), _file()), (rng.random(800), ((300, 350), (600, 640)))]
    ths, totals = nab.sweep(files, STD)
    assert ths[0] == nab.START_THRESHOLD and totals[0] == -3.0
    for k in rng.choice(len(ths), 20, replace=False):
        direct = sum(nab.score_file(s, w, STD, ths[k])[0] for s, w in files)
        assert totals[k] == pytest.approx(direct)


def test_normalise_null_and_perfect() -> None:
    assert nab.normalise(-116.0, 116, STD) == 0.0
    assert nab.normalise(116.0, 116, STD) == 100.0
    low_fn = nab.STANDARD_PROFILES["reward_low_FN_rate"]
    assert nab.normalise(-232.0, 116, low_fn) == 0.0


@pytest.fixture(scope="module")
def corpus() -> list[nab.NabFile]:
    root = nab.nab_dir()
    if not (root / "labels" / "combined_windows.json").exists():
        pytest.skip(f"NAB data not found at {root} (set AIOPS_SHARED_DIR)")
    return nab.load_corpus(root)


PUBLISHED_NUMENTA = {"standard": 70.1, "reward_low_FP_rate": 63.1, "reward_low_FN_rate": 74.3}


def test_reproduces_numenta_with_published_thresholds(corpus: list[nab.NabFile]) -> None:
    scores = nab.load_detector_scores("numenta")
    res = nab.score_corpus(scores, corpus, thresholds=nab.published_thresholds("numenta"))
    final = nab.published_scores()["numenta"]
    for profile, expected in PUBLISHED_NUMENTA.items():
        assert res[profile].score == pytest.approx(expected, abs=0.06)
        assert res[profile].score == pytest.approx(final[profile], abs=1e-6)


def test_reproduces_numenta_with_own_sweep(corpus: list[nab.NabFile]) -> None:
    res = nab.score_corpus(nab.load_detector_scores("numenta"), corpus)
    for profile, expected in PUBLISHED_NUMENTA.items():
        # The exhaustive sweep can only match or beat NAB's tuned threshold.
        assert res[profile].score == pytest.approx(expected, abs=0.15)


def test_per_file_scores_match_nab_score_files(corpus: list[nab.NabFile]) -> None:
    import csv

    scores = nab.load_detector_scores("numenta")
    path = nab.nab_dir() / "results" / "numenta" / "numenta_standard_scores.csv"
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["File"] != "" and "/" in r["File"]]
    windows = {f.name: f.windows for f in corpus}
    assert len(rows) == len(corpus)
    for row in rows:
        raw, counts = nab.score_file(scores[row["File"]], windows[row["File"]], STD,
                                     float(row["Threshold"]))
        assert raw == pytest.approx(float(row["Score"]), abs=1e-6), row["File"]
        assert counts["tp"] == int(row["TP"]) and counts["fp"] == int(row["FP"])
