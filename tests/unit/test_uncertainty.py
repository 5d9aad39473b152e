"""Ties by tolerance, score noise and weighted-tau intervals (transvis.ordering, transvis.uncertainty)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from transvis.metrics import compute
from transvis.ordering import display_order, tie_groups, tolerant_ranks
from transvis.ranking import RankingTable, rank_models
from transvis.uncertainty import Resampling, ScoreNoise, accuracy_ahead, tau_interval


def _task(rng, n_per_class=100, n_classes=4, dims=8, separation=1.0):
    labels = np.repeat(np.arange(n_classes), n_per_class)
    means = rng.normal(size=(n_classes, dims)) * separation
    return rng.normal(size=(len(labels), dims)) + means[labels], labels


# -- ties by tolerance ------------------------------------------------------------------------------------
def test_tolerant_ranks_share_a_rank_on_float_noise_and_keep_real_gaps():
    scores = {"a": 1.0, "b": 1.0 + 1e-15, "c": 0.5, "d": float("nan"), "e": 0.5 - 1e-13}
    assert tolerant_ranks(scores) == {"a": 1, "b": 1, "c": 3, "d": 5, "e": 3}
    ranks = tolerant_ranks(scores, nan_rank="nan")
    assert math.isnan(ranks["d"]) and ranks["c"] == 3
    assert tolerant_ranks({"a": 1.0, "b": 1.0 + 1e-6}) == {"a": 2, "b": 1}  # a real difference is a rank
    assert tolerant_ranks({"a": 1.0, "b": 2.0}, higher_is_better=False) == {"a": 1, "b": 2}


def test_tie_groups_do_not_depend_on_input_order():
    scores = {"x": 3.0, "y": 3.0 * (1 + 4e-10), "z": 3.0 * (1 + 8e-10), "w": 1.0}
    groups = tie_groups(scores)
    assert groups == [["x", "y", "z"], ["w"]]  # chained: x≈y≈z although x and z differ by 8e-10
    reordered = {k: scores[k] for k in ("w", "z", "x", "y")}
    assert [sorted(g) for g in tie_groups(reordered)] == [sorted(g) for g in groups]
    assert display_order(reordered) == ["z", "x", "y", "w"]  # tied models in input order, never by noise


def test_rotation_equivalent_features_share_a_rank_in_rank_models():
    rng = np.random.default_rng(3)
    x, y = _task(rng, dims=12)
    q = np.linalg.qr(rng.normal(size=(12, 12)))[0]
    x2, _ = _task(rng, dims=12, separation=0.3)
    table = rank_models({"a": (x, y), "b": (x @ q, y), "c": (x2, y)}, ["logme", "hscore", "gbc"])
    for metric in ("logme", "hscore", "gbc"):
        assert table.scores.at["a", metric] != table.scores.at["c", metric]
        assert table.ranks.at["a", metric] == table.ranks.at["b", metric] == 1, metric
    assert "logme" in table.tied_scores()


# -- resampling -----------------------------------------------------------------------------------------
def test_subsets_are_stratified_seeded_and_distinct():
    labels = np.repeat([0, 1, 2], [50, 30, 2])
    plan = Resampling(n_replicates=5, keep=0.8, seed=1)
    subsets = plan.subsets(labels)
    assert len(subsets) == 5
    for subset in subsets:
        counts = np.bincount(labels[subset], minlength=3)
        assert counts.tolist() == [40, 24, 2]  # 80 % of each class; a 2-sample class is kept whole
        assert len(np.unique(subset)) == len(subset)
    assert all(np.array_equal(a, b) for a, b in zip(subsets, plan.subsets(labels)))
    assert not np.array_equal(subsets[0], subsets[1])
    assert Resampling.variance_factor(100, 80) == pytest.approx(4.0)


@pytest.mark.parametrize("bad", [dict(n_replicates=1), dict(keep=1.0), dict(keep=0), dict(level=0.3)])
def test_resampling_rejects_bad_plans(bad):
    with pytest.raises(ValueError):
        Resampling(**bad)


def _interval_covers(metric: str, n_per_class: int, repetitions: int, seed: int) -> float:
    """Fraction of seeded repetitions whose 95 % interval covers the mean of the metric's sampling
    distribution at this N (estimated from 300 independent draws)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(3, 6)) * 0.8

    def draw(r):
        labels = np.repeat(np.arange(3), n_per_class)
        return r.normal(size=(len(labels), 6)) + means[labels], labels

    truth = np.mean([compute(metric, *draw(np.random.default_rng(10_000 + i))).score for i in range(300)])
    covered = 0
    plan = Resampling(n_replicates=10, seed=0)
    for rep in range(repetitions):
        x, y = draw(np.random.default_rng(rep))
        table = rank_models({"m": (x, y)}, [metric], resamples=plan)
        low, high = table.interval(metric, "m")
        covered += low <= truth <= high
    return covered / repetitions


@pytest.mark.parametrize("metric", ["logme", "hscore"])
def test_score_intervals_cover_at_their_nominal_level(metric):
    assert _interval_covers(metric, n_per_class=80, repetitions=150, seed=5) >= 0.90


def test_is_ahead_rarely_claims_an_order_between_equal_models_and_finds_a_real_one():
    false_claims = true_claims = 0
    repetitions = 40
    for rep in range(repetitions):
        rng = np.random.default_rng(100 + rep)
        labels = np.repeat(np.arange(3), 60)
        means = rng.normal(size=(3, 5))
        same_a = rng.normal(size=(180, 5)) + means[labels]
        same_b = rng.normal(size=(180, 5)) + means[labels]  # the same task, other noise: no true order
        better = rng.normal(size=(180, 5)) + 2.5 * means[labels]
        table = rank_models({"a": (same_a, labels), "b": (same_b, labels), "c": (better, labels)}, ["logme"],
                            resamples=10)
        false_claims += bool(table.is_ahead("logme", "a", "b")) or bool(table.is_ahead("logme", "b", "a"))
        true_claims += bool(table.is_ahead("logme", "c", "a"))
    assert false_claims / repetitions <= 0.10
    assert true_claims / repetitions >= 0.95


def test_noise_groups_are_tiers_and_round_trip_through_json():
    rng = np.random.default_rng(7)
    labels = np.repeat(np.arange(3), 60)
    means = rng.normal(size=(3, 5))
    pool = {"weak": (rng.normal(size=(180, 5)) + 0.3 * means[labels], labels),
            "a": (rng.normal(size=(180, 5)) + 2.0 * means[labels], labels),
            "b": (rng.normal(size=(180, 5)) + 2.0 * means[labels], labels)}
    table = rank_models(pool, ["logme"], resamples=10, groundtruth={"weak": 0.5, "a": 0.8, "b": 0.81},
                        groundtruth_n={"weak": 300, "a": 300, "b": 300})
    groups = table.noise_groups("logme")
    assert sorted(groups[0]) == ["a", "b"] and groups[-1] == ["weak"]
    se = table.score_se
    assert (se["logme"] > 0).all()
    back = RankingTable.from_json(table.to_json())
    assert back.noise_groups("logme") == groups
    assert back.score_se.equals(se)
    assert back.tau_text("logme") == table.tau_text("logme")
    interval = table.tau_intervals["logme"]
    assert interval.sources == ("scores", "ground truth")
    assert interval.low <= interval.tau <= interval.high and interval.low < interval.high


def test_pool_combined_metric_gets_noise_per_subset():
    rng = np.random.default_rng(8)
    labels = np.repeat(np.arange(3), 50)
    means = rng.normal(size=(3, 6))
    pool = {f"m{k}": (rng.normal(size=(150, 6)) + s * means[labels], labels) for k, s in enumerate([0.5, 1, 2])}
    table = rank_models(pool, ["ncti"], resamples=5)
    noise = table.noise["ncti"]
    assert all(np.isfinite(noise.replicates[m]).all() for m in pool)


# -- tau intervals -------------------------------------------------------------------------------------
def test_tau_interval_covers_the_true_tau_under_ground_truth_noise():
    """Scores are exact; accuracies are measured on n_test samples. The interval must cover the τ of the
    true accuracies in ≥ 90 % of seeded repetitions (nominal 95 %)."""
    true_acc = np.array([0.62, 0.70, 0.74, 0.80, 0.83, 0.88, 0.90])
    scores = {f"m{i}": s for i, s in enumerate([0.1, 0.5, 0.3, 0.9, 1.1, 1.0, 1.6])}
    models = list(scores)
    truth = scipy.stats.weightedtau([scores[m] for m in models], true_acc).statistic
    n_test = 400
    covered = 0
    repetitions = 60
    for rep in range(repetitions):
        rng = np.random.default_rng(rep)
        measured = {m: rng.binomial(n_test, p) / n_test for m, p in zip(models, true_acc)}
        interval = tau_interval(scores, measured, n_test={m: n_test for m in models}, draws=400, seed=rep)
        covered += interval.low <= truth <= interval.high
    assert covered / repetitions >= 0.90


def test_tau_interval_without_noise_is_the_point_and_needs_three_models():
    interval = tau_interval({"a": 1, "b": 2, "c": 3}, {"a": 0.1, "b": 0.2, "c": 0.3})
    assert interval.tau == interval.low == interval.high == pytest.approx(1.0) and interval.sources == ()
    assert math.isnan(tau_interval({"a": 1, "b": 2}, {"a": 0.1, "b": 0.2}).tau)


def test_scorenoise_paired_difference_removes_shared_noise():
    shared = np.array([0.0, 1.0, -1.0, 0.5, -0.5])
    noise = ScoreNoise(estimate={"a": 1.0, "b": 0.9}, replicates={"a": 1.0 + shared, "b": 0.9 + shared + 1e-3 * np.arange(5)},
                       factor={"a": 4.0, "b": 4.0}, signature={"a": "s", "b": "s"}, resampling=Resampling(n_replicates=5))
    assert noise.difference_se("a", "b") < 0.01 < noise.se("a")
    assert noise.is_ahead("a", "b") and not noise.is_ahead("b", "a")
    unpaired = ScoreNoise(estimate=noise.estimate, replicates=noise.replicates, factor=noise.factor,
                          signature={"a": "s", "b": "t"}, resampling=noise.resampling)
    assert not unpaired.is_ahead("a", "b")  # independent samples: the shared noise does not cancel


def test_accuracy_ahead_uses_the_binomial_noise():
    assert accuracy_ahead(0.854, 0.834, 900, 900) is False
    assert accuracy_ahead(0.90, 0.80, 900, 900) is True
    assert accuracy_ahead(0.9, 0.8, None, 900) is None


def test_weighted_tau_batch_equals_scipy_with_and_without_ties():
    from transvis.uncertainty import weighted_tau_batch

    rng = np.random.default_rng(11)
    for n in (3, 5, 7, 12):
        scores = rng.normal(size=(200, n))
        accuracies = rng.normal(size=(200, n))
        scores[::3] = rng.integers(0, 3, size=(len(scores[::3]), n))  # ties, and constant rows now and then
        accuracies[::2] = rng.integers(0, 4, size=(len(accuracies[::2]), n))
        got = weighted_tau_batch(scores, accuracies)
        for row in range(len(scores)):
            with np.errstate(invalid="ignore"):
                want = scipy.stats.weightedtau(scores[row], accuracies[row]).statistic
            if np.isnan(want):
                assert np.isnan(got[row])
            else:
                assert got[row] == pytest.approx(want, abs=1e-13)


def test_degenerate_flags_survive_json_with_and_without_traces():
    import warnings

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = rank_models({"a": (rng.normal(size=(30, 100)), labels), "b": (rng.normal(size=(30, 100)), labels)},
                            ["sfda", "logme"])
    assert table.results["sfda"]["a"].degenerate
    for traces in (False, True):
        back = RankingTable.from_json(table.to_json(traces=traces))
        assert back.results["sfda"]["a"].degenerate == table.results["sfda"]["a"].degenerate
        assert back.results["logme"]["a"].degenerate is None


def test_uploaded_groundtruth_carries_its_test_sizes():
    from transvis.session import parse_groundtruth_csv

    text = "model,dataset,regime,accuracy,protocol,n_test\na,fm,lp,0.5,x,900\nb,fm,lp,0.6,x,\n"
    accuracies, sizes = parse_groundtruth_csv(text, with_sizes=True)
    assert accuracies == {"linear_probe": {"a": 0.5, "b": 0.6}}
    assert sizes == {"linear_probe": {"a": 900}}
    assert parse_groundtruth_csv(text) == accuracies



def test_rank_models_warns_once_per_degenerate_metric_at_the_callers_line():
    import warnings

    from transvis.metrics import DegenerateScoreWarning

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 10)
    pool = {f"m{i}": (rng.normal(size=(30, 100)), labels) for i in range(4)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rank_models(pool, ["sfda", "hscore", "logme"], resamples=3, n_jobs=2)
    degenerate = [w for w in caught if issubclass(w.category, DegenerateScoreWarning)]
    assert sorted(str(w.message).split()[1] for w in degenerate) == ["hscore", "sfda"]
    assert all("4 of 4 models" in str(w.message) and w.filename == __file__ for w in degenerate)
