"""Headline picks say when they cannot be told apart from the runner-up (transvis.headline)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from transvis.headline import (
    binomial_se,
    consensus_pick,
    degenerate_scores,
    groundtruth_pick,
    groundtruth_tiers,
    metric_pick,
    rank_range,
    rank_text,
    score_text,
    tier_index,
)
from transvis.metrics import MetricResult
from transvis.ordering import tolerant_ranks
from transvis.ranking import RankingTable
from transvis.uncertainty import Resampling, ScoreNoise, TauInterval

R = 10


def _noise(estimate: dict[str, float], spread: float, seed: int = 0) -> ScoreNoise:
    """Scores on shared subsets whose replicate spread is ``spread`` (independent per model, so differences
    are noisy too)."""
    rng = np.random.default_rng(seed)
    reps = {m: v + spread * rng.standard_normal(R) for m, v in estimate.items()}
    return ScoreNoise(estimate=dict(estimate), replicates=reps, factor={m: 4.0 for m in estimate},
                      signature={m: "same" for m in estimate}, resampling=Resampling(n_replicates=R))


def _table(scores: dict[str, dict[str, float]], spread: dict[str, float | None]) -> RankingTable:
    """RankingTable over ``scores`` ({metric: {model: score}}) with noise of ``spread[metric]`` (None: no noise)."""
    frame = pd.DataFrame(scores, dtype=float)
    frame.index.name = "model"
    ranks = pd.DataFrame({m: tolerant_ranks(frame[m].dropna().to_dict(), nan_rank="nan") for m in frame.columns},
                         index=frame.index, dtype=float)
    results = {m: {model: MetricResult(name=m, score=float(v)) for model, v in frame[m].dropna().items()}
               for m in frame.columns}
    noise = {m: _noise(frame[m].dropna().to_dict(), s, seed=i) for i, (m, s) in enumerate(spread.items())
             if s is not None}
    return RankingTable(scores=frame, ranks=ranks, results=results, noise=noise)


MODELS = ["a", "b", "c"]


def test_consensus_pick_clear_when_ahead_beyond_noise_on_most_metrics():
    table = _table({"m1": {"a": 3.0, "b": 2.0, "c": 1.0}, "m2": {"a": 0.9, "b": 0.5, "c": 0.1}},
                   {"m1": 1e-3, "m2": 1e-3})
    pick = consensus_pick(table)
    assert (pick.pick, pick.runner_up, pick.clear) == ("a", "b", True)
    assert not pick.within_noise and pick.tied_with == ()
    assert "ahead of b beyond noise on 2 of 2" in pick.detail
    assert "Cannot be told apart" not in pick.detail


def test_consensus_pick_within_noise_says_so():
    # a leads by mean rank, but the lead is far inside the scores' noise on both metrics
    table = _table({"m1": {"a": 3.0, "b": 2.99, "c": 1.0}, "m2": {"a": 0.9, "b": 0.899, "c": 0.1}},
                   {"m1": 0.5, "m2": 0.5})
    pick = consensus_pick(table)
    assert (pick.pick, pick.runner_up, pick.clear) == ("a", "b", False)
    assert pick.within_noise and pick.tied_with[0] == "b"
    assert pick.detail.startswith("Cannot be told apart from b")


def test_consensus_pick_shared_mean_rank_is_a_tie_even_without_noise():
    table = _table({"m1": {"a": 3.0, "b": 2.0, "c": 1.0}, "m2": {"a": 0.5, "b": 0.9, "c": 0.1}},
                   {"m1": None, "m2": None})
    pick = consensus_pick(table)
    assert pick.clear is False and "shares the best mean rank" in pick.detail


def test_consensus_pick_without_noise_is_unknown():
    table = _table({"m1": {"a": 3.0, "b": 2.0, "c": 1.0}}, {"m1": None})
    pick = consensus_pick(table, metric_label=str.upper)
    assert pick.pick == "a" and pick.clear is None
    assert "not estimated for M1" in pick.detail


def test_groundtruth_pick_within_binomial_noise():
    # the case: 1 pp apart on 900 test images each (se of the difference ≈ 1.7 pp)
    acc = {"x": 0.8544, "y": 0.8444, "z": 0.60}
    pick = groundtruth_pick(acc, {m: 900 for m in acc})
    assert (pick.pick, pick.runner_up, pick.clear) == ("x", "y", False)
    assert pick.tied_with == ("y",)
    assert pick.detail.startswith("Cannot be told apart from y") and "900 test samples each" in pick.detail


def test_groundtruth_pick_clear_beyond_noise():
    acc = {"x": 0.95, "y": 0.80, "z": 0.60}
    pick = groundtruth_pick(acc, {m: 900 for m in acc})
    assert pick.clear is True and pick.tied_with == ()
    assert "beyond binomial noise" in pick.detail and "Cannot" not in pick.detail


def test_groundtruth_pick_unknown_sizes_and_percent_scale():
    pick = groundtruth_pick({"x": 85.4, "y": 84.4})
    assert pick.pick == "x" and pick.clear is None and "unknown" in pick.detail
    assert "85.4%" in pick.detail  # percent tables are read as percent, not as 8,540 %
    assert groundtruth_pick({"x": 0.9, "y": 0.9}).clear is False  # equal accuracies: tied whatever n


def test_groundtruth_tiers_group_what_binomial_noise_cannot_order():
    acc = {"a": 0.855, "b": 0.844, "c": 0.838, "d": 0.60}
    assert groundtruth_tiers(acc, {m: 900 for m in acc}) == [["a", "b", "c"], ["d"]]
    assert groundtruth_tiers(acc, {m: 10**7 for m in acc}) == [["a"], ["b"], ["c"], ["d"]]
    assert groundtruth_tiers(acc) == [["a"], ["b"], ["c"], ["d"]]  # sizes unknown: only exact ties group
    assert binomial_se(0.5, 100) == pytest.approx(0.05) and math.isnan(binomial_se(0.5, None))


def _tau_table(taus: dict[str, float], draws: dict[str, np.ndarray]) -> RankingTable:
    table = _table({m: {"a": 1.0, "b": 2.0, "c": 3.0} for m in taus}, {m: None for m in taus})
    table.correlations = {m: {"weighted_tau": t} for m, t in taus.items()}
    table.tau_intervals = {m: TauInterval(t, float(np.quantile(draws[m], 0.025)), float(np.quantile(draws[m], 0.975)),
                                          0.95, ("scores",), draws[m]) for m, t in taus.items()}
    return table


def test_metric_pick_within_noise_says_so():
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 0.3, 1000)
    table = _tau_table({"m1": 0.80, "m2": 0.75},
                       {"m1": np.clip(0.8 + shared + rng.normal(0, 0.2, 1000), -1, 1),
                        "m2": np.clip(0.75 + shared + rng.normal(0, 0.2, 1000), -1, 1)})
    pick = metric_pick(table, metric_label=str.upper)
    assert (pick.pick, pick.runner_up, pick.clear) == ("m1", "m2", False)
    assert pick.detail.startswith("Cannot be told apart from M2") and "[" in pick.detail


def test_metric_pick_clear_when_paired_draws_separate():
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 0.1, 1000)
    table = _tau_table({"m1": 0.80, "m2": 0.20},
                       {"m1": 0.8 + shared, "m2": 0.2 + shared + rng.normal(0, 0.01, 1000)})
    pick = metric_pick(table)
    assert pick.clear is True and "beyond the noise" in pick.detail
    # equal τ: tied whatever the draws say
    assert metric_pick(_tau_table({"m1": 1.0, "m2": 1.0}, {"m1": np.ones(10), "m2": np.ones(10)})).clear is False


def test_rank_text_float_tie_and_noise_ranges():
    # H-score "1" vs "1": a float tie is "1 of 2 (tied)" for both, never "1 of 2" vs "2 of 2"
    tied = _table({"hscore": {"a": 1.0, "b": 1.0 + 1e-15}}, {"hscore": None})
    assert rank_text(tied, "hscore", "a") == rank_text(tied, "hscore", "b") == "1 of 2 (tied)"
    noisy = _table({"m": {"a": 3.0, "b": 2.99, "c": 1.0}}, {"m": 0.3})
    noisy.noise["m"] = _noise({"a": 3.0, "b": 2.99, "c": 1.0}, 0.0)
    noisy.noise["m"].replicates["a"] = 3.0 + 0.3 * np.random.default_rng(1).standard_normal(R)
    noisy.noise["m"].replicates["b"] = 2.99 + 0.3 * np.random.default_rng(2).standard_normal(R)
    assert rank_range(noisy, "m", "a") == (1, 2, 3)
    assert rank_text(noisy, "m", "a") == "1–2 of 3 (within noise)"
    assert rank_text(noisy, "m", "c") == "3 of 3"
    assert tier_index(noisy.noise_groups("m")) == {"a": (1, 2), "b": (1, 2), "c": (2, 1)}


def test_score_text_rounds_at_the_standard_error():
    assert score_text(0.31234, 0.0081) == "0.312 ± 0.008"
    assert score_text(0.31234, 0.0012) == "0.3123 ± 0.0012"
    assert score_text(-14.81, 0.58) == "-14.8 ± 0.6"
    assert score_text(0.31234, math.nan) == "0.3123"
    assert score_text(math.nan, 0.1) == "–"


def test_degenerate_scores_are_collected():
    table = _table({"sfda": {"a": 1.0, "b": 1.0, "c": 0.5}}, {"sfda": None})
    assert degenerate_scores(table) == {}
    table.results["sfda"]["a"] = SimpleNamespace(score=1.0, degenerate="saturated at 1.0: add images per class")
    assert degenerate_scores(table) == {"sfda": {"a": "saturated at 1.0: add images per class"}}
