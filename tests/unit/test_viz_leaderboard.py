import numpy as np
import pandas as pd
import pytest
import scipy.stats

from transvis.viz import model_colors
from transvis.viz.leaderboard import (
    GROUNDTRUTH_LABEL,
    correlation_bars,
    display_table,
    groundtruth_ranks,
    metric_agreement,
    metric_agreement_heatmap,
    rank_bump_chart,
    score_vs_groundtruth,
)

MODELS = ["offline/a", "offline/b", "offline/c", "offline/d"]


@pytest.fixture
def tables():
    scores = pd.DataFrame(
        {"logme": [1.0, 2.0, 3.0, 4.0], "sfda": [4.0, 3.0, 2.0, 1.0], "leep": [0.1, np.nan, 0.3, 0.2]},
        index=MODELS,
    )
    ranks = scores.rank(ascending=False, method="min")
    gt = pd.Series([0.5, 0.6, 0.7, 0.9], index=MODELS)
    return scores, ranks, gt


def test_groundtruth_ranks_best_is_one_and_ties_share():
    r = groundtruth_ranks(pd.Series({"x": 0.9, "y": 0.5, "z": 0.9}))
    assert r.to_dict() == {"x": 1.0, "y": 3.0, "z": 1.0}


def test_bump_chart_has_one_line_per_model_with_groundtruth_first(tables):
    scores, ranks, gt = tables
    fig = rank_bump_chart(ranks, gt)
    assert [t.name for t in fig.data] == ["a", "b", "c", "d"]
    first = fig.data[0]
    assert list(first.x) == [GROUNDTRUTH_LABEL, "logme", "sfda", "leep"]
    # model a: worst by accuracy (rank 4), worst by logme (4), best by sfda (1), leep rank 3.
    assert list(first.y) == [4, 4, 1, 3]
    # the skipped metric leaves a gap, not a fake rank
    assert np.isnan(fig.data[1].y[3])
    assert fig.layout.yaxis.autorange == "reversed"
    colors = model_colors(MODELS)
    assert fig.data[2].line.color == colors["offline/c"]


def test_bump_chart_without_groundtruth_starts_at_first_metric(tables):
    _, ranks, _ = tables
    fig = rank_bump_chart(ranks)
    assert list(fig.data[0].x) == ["logme", "sfda", "leep"]


def test_metric_agreement_matches_scipy_and_is_symmetric(tables):
    scores, _, _ = tables
    agree = metric_agreement(scores)
    assert agree.loc["logme", "sfda"] == pytest.approx(-1.0)
    assert agree.loc["logme", "logme"] == 1.0
    both = scores[["logme", "leep"]].dropna()
    expected = scipy.stats.weightedtau(both["logme"], both["leep"]).statistic
    assert agree.loc["logme", "leep"] == pytest.approx(expected)
    assert agree.loc["leep", "logme"] == agree.loc["logme", "leep"]


def test_metric_agreement_needs_three_common_models():
    scores = pd.DataFrame({"a": [1.0, 2.0, np.nan], "b": [1.0, 3.0, 2.0]}, index=["x", "y", "z"])
    assert np.isnan(metric_agreement(scores).loc["a", "b"])


def test_agreement_heatmap_carries_matrix_and_fixed_range(tables):
    scores, _, _ = tables
    agree = metric_agreement(scores)
    fig = metric_agreement_heatmap(agree)
    heat = fig.data[0]
    assert (heat.zmin, heat.zmax) == (-1, 1)
    np.testing.assert_allclose(np.asarray(heat.z, dtype=float), agree.to_numpy(), equal_nan=True)
    assert heat.text[0][1] == "-1.00"


def test_correlation_bars_sorted_with_sign_colours():
    corr = pd.DataFrame({"weighted_tau": [0.5, -0.2, 0.9], "pearson": [0.1, 0.2, 0.3]},
                        index=["logme", "leep", "sfda"])
    fig = correlation_bars(corr)
    bars = fig.data[0]
    assert list(bars.y) == ["leep", "logme", "sfda"]  # ascending, so the best is drawn on top
    assert list(bars.x) == [-0.2, 0.5, 0.9]
    assert bars.marker.color[0] != bars.marker.color[1]
    assert list(correlation_bars(corr, "pearson").data[0].x) == [0.1, 0.2, 0.3]
    with pytest.raises(ValueError, match="available"):
        correlation_bars(corr, "nope")


def test_score_vs_groundtruth_reports_weighted_tau(tables):
    scores, _, gt = tables
    fig = score_vs_groundtruth(scores["logme"], gt, metric_label="LogME")
    assert list(fig.data[0].x) == [1.0, 2.0, 3.0, 4.0]
    assert list(fig.data[0].text) == ["a", "b", "c", "d"]
    assert "+1.000" in fig.layout.title.text
    fig = score_vs_groundtruth(scores["leep"], gt)
    assert len(fig.data[0].x) == 3  # the skipped model is left out


def test_display_table_orders_by_mean_rank(tables):
    scores, ranks, gt = tables
    table = display_table(scores, ranks, gt, show="ranks")
    assert table.columns[0] == "ground-truth rank"
    mean = ranks.mean(axis=1)
    assert list(table.index) == [m.split("/")[1] for m in mean.sort_values(kind="stable").index]
    table = display_table(scores, ranks, gt, show="scores")
    assert table.loc["d", GROUNDTRUTH_LABEL] == 0.9
    assert table.loc["d", "logme"] == 4.0
    with pytest.raises(ValueError):
        display_table(scores, ranks, show="both")
