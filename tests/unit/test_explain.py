"""Why does A rank above B (transvis.explain) and the deep dive's figures built on it (transvis.viz.deepdive)."""

import math

import numpy as np
import pandas as pd
import pytest

from transvis.explain import (
    class_priors,
    class_terms,
    compare_groundtruth,
    compare_metrics,
    confmix_saturation,
    explain_pair,
    groundtruth_rank,
    metric_family,
    metrics_by_tau,
    nearest_mean_margin,
)
from transvis.metrics import MetricResult, available
from transvis.ranking import rank_models
from transvis.viz.deepdive import (
    GROUNDTRUTH_ROW,
    TAU_COLUMN,
    contribution_heatmap,
    hardest_samples,
    per_class_heatmaps,
    rank_table,
    why_family_table,
    why_metric_table,
)

NAMES = ["a", "b", "c", "d"]
SPLIT = ["sfda", "ncm_softmax", "logme", "nc", "gbc", "face", "transrate"]


def _one_class_pool(seed: int = 0):
    """A and B share every sample but class "d": well separated in A, spread over the others in B. A third
    model, "weak", has every class mixed (ground truth needs three models)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(4), 80)
    means = np.eye(4, 10) * 6.0
    noise = rng.normal(size=(labels.size, 10))
    a = means[labels] + noise
    b = a.copy()
    d = labels == 3
    b[d] = 0.25 * means[3] + 3.0 * noise[d]  # class d: pulled in and spread out, the rest unchanged
    weak = 0.3 * means[labels] + noise
    return {"A": (a, labels), "B": (b, labels), "weak": (weak, labels)}, labels


@pytest.fixture(scope="module")
def one_class():
    pool, labels = _one_class_pool()
    table = rank_models(pool, SPLIT, resamples=6, groundtruth={"A": 0.90, "B": 0.80, "weak": 0.60},
                        groundtruth_n={"A": 900, "B": 900, "weak": 900})
    priors = {m: class_priors(labels, 4) for m in pool}
    return table, priors, pool


def test_the_one_class_that_differs_is_the_first_reason(one_class):
    table, priors, _ = one_class
    why = explain_pair(table, "A", "B", NAMES, priors)
    assert why.leader == "A"
    assert why.classes.index[0] == "d"
    assert why.classes.loc["d", "favours"] == "A"
    # every metric that splits by class puts most of its per-class difference on d
    for metric, terms in why.terms.items():
        assert int(np.argmax(np.abs(terms.contributions))) == 3, metric
        assert terms.shares[3] > 0.4, (metric, terms.shares)
    assert why.reasons(1)[0].startswith("**d** favours A")
    # TransRate alone favours B: spreading class d raises the global coding rate more than d's own rate
    assert [c.metric for c in why.comparisons if c.favours == "B"] == ["transrate"]
    assert why.terms["transrate"].contributions[3] > 0 > why.terms["transrate"].remainder
    assert why.answer.startswith(f"A is ahead of B on {len(SPLIT) - 1} of {len(SPLIT)} metrics")
    assert "ground truth agrees (90.0% vs 80.0%, beyond its noise)" in why.answer


def test_reversed_pair_names_the_leader_and_signs_shares_for_it(one_class):
    table, priors, _ = one_class
    why = explain_pair(table, "B", "A", NAMES, priors, model_label=str.lower)
    assert why.leader == "B"  # the second model leads
    assert why.classes.index[0] == "d" and why.classes.loc["d", "favours"] == "B"
    reason = why.reasons(3)[0]
    assert reason.startswith("**d** favours A on ")
    reason = why.reasons(1, model_label=str.lower)[0]
    assert reason.startswith("**d** favours a on ") and "(b vs a)" in reason
    assert "(+" in reason and "(-" not in reason  # shares signed for the leader
    assert why.answer.startswith("a is ahead of b on")  # the labels given to explain_pair


def test_class_contributions_add_up_to_the_score_difference(one_class):
    table, priors, _ = one_class
    why = explain_pair(table, "A", "B", NAMES, priors)
    differences = {c.metric: c.difference for c in why.comparisons}
    assert set(why.terms) == set(SPLIT)
    for metric, terms in why.terms.items():
        total = terms.contributions.sum() + terms.remainder
        assert total == pytest.approx(differences[metric], rel=1e-9, abs=1e-12), metric
    assert why.terms["sfda"].remainder == 0.0 and why.terms["gbc"].remainder == 0.0
    assert why.terms["transrate"].remainder != 0.0  # the global coding rate belongs to no class


def test_a_difference_within_noise_is_a_tie_and_equal_scores_are_flagged():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(3), 40)
    x = np.eye(3, 6)[labels] * 3 + rng.normal(size=(labels.size, 6))
    y = x + 1e-3 * rng.normal(size=x.shape)  # a hair's difference: far inside the noise
    pool = {"x": (x, labels), "y": (y, labels), "twin": (x.copy(), labels)}
    table = rank_models(pool, ["logme", "sfda"], resamples=6)
    near = {c.metric: c for c in compare_metrics(table, "x", "y")}
    assert all(c.favours is not None and c.beyond_noise is False for c in near.values())
    assert near["logme"].verdict == "within noise (a tie)"
    priors = {m: class_priors(labels, 3) for m in pool}
    twin = explain_pair(table, "x", "twin", ["p", "q", "r"], priors)
    assert twin.leader is None and twin.answer.startswith("Neither ranks above the other")
    assert all(c.favours is None for c in twin.comparisons)
    assert any(f.startswith("Equal scores") for f in twin.flags)
    assert twin.classes.empty  # no class differs


def test_groundtruth_verdicts_use_the_binomial_noise():
    acc, n = {"A": 0.85, "B": 0.80, "C": 0.845}, {"A": 900, "B": 900, "C": 900}
    clear = compare_groundtruth(acc, n, "A", "B")
    assert (clear.favours, clear.beyond_noise) == ("A", True)
    assert clear.se_a == pytest.approx(math.sqrt(0.85 * 0.15 / 900))
    close = compare_groundtruth(acc, n, "C", "A")
    assert (close.favours, close.beyond_noise) == ("B", False)
    assert compare_groundtruth(acc, None, "A", "B").beyond_noise is None
    assert compare_groundtruth({"A": 85.0, "B": 80.0}, None, "A", "B").accuracy_a == pytest.approx(0.85)
    assert compare_groundtruth(acc, n, "A", "missing") is None
    assert groundtruth_rank(acc, n, "A") == (1, 2, 3)  # A and C within noise, both beyond B
    assert groundtruth_rank(acc, n, "B") == (3, 3, 3)
    assert groundtruth_rank(acc, None, "C") == (2, 2, 3)


def test_rank_table_has_every_metric_and_the_groundtruth_row_ordered_by_tau(one_class):
    table, _, _ = one_class
    ranks = rank_table(table, ["A", "B"], groundtruth_label="linear probe")
    assert ranks.index[0] == f"{GROUNDTRUTH_ROW}: linear probe (accuracy %)"
    assert ranks.loc[ranks.index[0], "rank of A"] == "1 of 3"
    assert ranks.loc[ranks.index[0], "A score"] == "90.0 ± 1.0"
    assert sorted(ranks.index[1:]) == sorted(SPLIT)  # every metric, no cut-off
    ordered = metrics_by_tau(table)
    assert list(ranks.index[1:]) == ordered
    taus = [table.weighted_tau[m] for m in ordered]
    finite = [t for t in taus if math.isfinite(t)]
    assert finite == sorted(finite, reverse=True)
    assert all(not math.isfinite(t) for t in taus[len(finite):])  # metrics without τ last
    assert ranks[TAU_COLUMN].iloc[1:].tolist() == [table.tau_text(m) for m in ordered]


def test_metrics_without_tau_come_last():
    class Fake:
        metrics = ["m1", "m2", "m3", "m4"]
        weighted_tau = {"m1": math.nan, "m2": 0.2, "m3": 0.9, "m4": -0.5}

    assert metrics_by_tau(Fake()) == ["m3", "m2", "m4", "m1"]


def test_families_come_from_the_registry_and_the_table():
    assert metric_family("ped") == "perturbation" and metric_family("fsp") == "perturbation"  # wraps_metric
    assert metric_family("leep") == "evidence" and metric_family("nce") == "evidence"  # needs_source_probs
    assert metric_family("sfda") == "separability" and metric_family("nc") == "collapse"
    assert metric_family("not-a-metric") == "other"
    assert all(metric_family(m) != "other" for m in available())  # every registered metric has a family


def test_per_class_heat_maps_share_one_colour_scale_and_one_colour_bar():
    # the case: 0.890 for one model and 0.904 for the other
    a = pd.DataFrame({"SFDA posterior ↑": [0.890, 0.50], "NC1 share ↓": [0.2, 0.1]}, index=["u", "v"])
    b = pd.DataFrame({"SFDA posterior ↑": [0.904, 0.95], "NC1 share ↓": [0.3, 0.1]}, index=["u", "v"])
    fa, fb = per_class_heatmaps({"model a": a, "model b": b})
    ha, hb = fa.data[0], fb.data[0]
    assert (ha.zmin, ha.zmax) == (hb.zmin, hb.zmax) == (0, 1)
    assert ha.colorscale == hb.colorscale
    assert [ha.showscale, hb.showscale] == [False, True]  # one colour bar
    za, zb = np.asarray(ha.z), np.asarray(hb.z)
    assert zb[0, 0] > za[0, 0]  # 0.904 is better than 0.890 in both panels' shared scale
    assert za[1, 0] == 0.0 and zb[1, 0] == 1.0  # 0.50 is the worst SFDA value shown, 0.95 the best
    assert za[1, 1] == zb[1, 1] == 1.0 and zb[0, 1] == 0.0  # NC1: lower is better
    assert fa.layout.margin.r == fb.layout.margin.r  # the panels align


def test_contribution_heat_map_is_one_symmetric_scale_with_the_leading_class_first(one_class):
    table, priors, _ = one_class
    why = explain_pair(table, "A", "B", NAMES, priors)
    fig = contribution_heatmap(why, model_labels=("A", "B"))
    heat = fig.data[0]
    assert list(heat.y)[0] == "d"
    assert heat.zmin == -heat.zmax and heat.zmid == 0 and heat.showscale is not False
    assert np.abs(np.asarray(heat.z)).max() == pytest.approx(heat.zmax)
    assert list(heat.x) == list(why.terms)
    verdicts = why_metric_table(why, model_labels=("A", "B"), groundtruth_label="linear probe")
    assert verdicts.index[0] == f"{GROUNDTRUTH_ROW}: linear probe"
    assert verdicts.loc[verdicts.index[0], "verdict"] == "A ahead beyond noise"
    assert len(verdicts) == len(SPLIT) + 1
    families = why_family_table(why, model_labels=("A", "B"))
    assert families.loc["Within-class spread / collapse", "verdict"] == "A"


def test_hardest_samples_by_margin_do_not_tie_where_confmix_weights_do():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 50)
    x = np.eye(3, 5)[labels] * 40 + rng.normal(size=(labels.size, 5))  # saturated posteriors
    table = rank_models({"m": (x, labels)}, ["sfda"])
    weights = table.results["sfda"]["m"].trace["mixing_weights"]
    at_max, top, _, _ = confmix_saturation(weights)
    assert at_max > 0.9 * labels.size  # the ConfMix weights tie: ordering by them is arbitrary
    assert np.sum(np.isclose(weights[hardest_samples(weights, 16)], top)) > 8
    margin, nearest = nearest_mean_margin(x, labels)
    hardest = hardest_samples(margin, 16)
    assert np.unique(margin[hardest]).size == 16  # no ties
    assert np.all(np.diff(margin[hardest]) > 0)
    assert np.all(nearest != labels)
    # the margin by hand for one sample
    means = np.stack([x[labels == c].mean(0) for c in range(3)])
    d2 = ((x[0] - means) ** 2).sum(1)
    assert margin[0] == pytest.approx(min(d2[1], d2[2]) - d2[0])
    # equal values: sample order decides, per class too
    np.testing.assert_array_equal(hardest_samples(np.array([1.0, 0.0, 0.0, 1.0]), 3), [1, 2, 0])
    np.testing.assert_array_equal(hardest_samples(np.array([1.0, 0.0, 0.0, 1.0]), 1, [0, 1, 1, 1], 1), [1])


def test_class_terms_skip_what_does_not_split_and_flag_saturated_classes():
    one = MetricResult("sfda", 1.0, {"class_posterior": np.array([1.0, 0.8])})
    two = MetricResult("sfda", 0.95, {"class_posterior": np.array([1.0, 0.9])})
    terms = class_terms("sfda", one, two, [0.5, 0.5], [0.5, 0.5])
    np.testing.assert_allclose(terms.contributions, [0.0, -0.05])
    assert terms.saturated.tolist() == [True, False]
    assert class_terms("hscore", one, two, [0.5, 0.5], [0.5, 0.5]) is None
    assert class_terms("sfda", one, MetricResult("sfda", 0.9, {}), [0.5, 0.5], [0.5, 0.5]) is None
