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


# --- noise on the figures and tables --------------------------------------------------------------------

from transvis.viz.leaderboard import (  # noqa: E402
    DEGENERATE_LABEL,
    TIED_LABEL,
    WITHIN_NOISE_LABEL,
    model_traces,
    noise_cells,
    score_intervals_table,
    styled_leaderboard,
)


def test_bump_chart_bands_models_within_noise_and_rings_ties(tables):
    _, ranks, gt = tables
    ranks = ranks.copy()
    ranks.loc["offline/b", "logme"] = ranks.loc["offline/a", "logme"] = 3.0  # a float-noise tie (shared rank)
    tiers = {"sfda": [["offline/a", "offline/b"], ["offline/c"], ["offline/d"]],
             GROUNDTRUTH_LABEL: [["offline/d", "offline/c"], ["offline/b"], ["offline/a"]]}
    fig = rank_bump_chart(ranks, gt, tiers=tiers, degenerate={"leep": {"offline/c": "saturated: add images"}})
    band = next(t for t in fig.data if t.name == WITHIN_NOISE_LABEL)
    # one band per multi-model tier: a marker in the data (legend, hover) and a box spanning its ranks
    assert list(band.x) == [GROUNDTRUTH_LABEL, "sfda"] and list(band.y) == [1.5, 1.5]
    assert "cannot be ordered beyond noise" in band.hovertext[1] and "a, b" in band.hovertext[1]
    boxes = [(s.x0, s.x1, s.y0, s.y1) for s in fig.layout.shapes if s.type == "rect"]
    assert boxes == [(-0.2, 0.2, 0.7, 2.3), (1.8, 2.2, 0.7, 2.3)]  # ground truth is column 0, sfda column 2
    ring = next(t for t in fig.data if t.name == TIED_LABEL)
    assert list(ring.x) == ["logme"] and list(ring.y) == [3.0] and "a, b tie at rank 3" in ring.hovertext[0]
    cross = next(t for t in fig.data if t.name == DEGENERATE_LABEL)
    assert list(cross.x) == ["leep"] and "saturated: add images" in cross.hovertext[0]
    lines = model_traces(fig)
    assert [t.name for t in lines] == ["a", "b", "c", "d"]
    hover_b = lines[1].hovertext
    assert "tied with a" in hover_b[1] and "within noise of a" in hover_b[2]
    # the bands come first in the data, yet the columns keep the metrics' order
    assert list(fig.layout.xaxis.categoryarray) == [GROUNDTRUTH_LABEL, "logme", "sfda", "leep"]


def test_bump_chart_without_noise_draws_no_band(tables):
    _, ranks, gt = tables
    fig = rank_bump_chart(ranks, gt, tiers={"logme": [["offline/d"], ["offline/c"], ["offline/b"], ["offline/a"]]})
    assert not [t for t in fig.data if t.name in (WITHIN_NOISE_LABEL, TIED_LABEL, DEGENERATE_LABEL)]


def test_correlation_bars_carry_tau_intervals_as_error_bars():
    corr = pd.DataFrame({"weighted_tau": [0.5, -0.2, 0.9]}, index=["logme", "leep", "sfda"])
    fig = correlation_bars(corr, intervals={"logme": (0.1, 0.8), "sfda": (0.6, 1.0)})
    bars = fig.data[0]
    assert list(bars.y) == ["leep", "logme", "sfda"]
    np.testing.assert_allclose(bars.error_x.arrayminus, [0.0, 0.4, 0.3])
    np.testing.assert_allclose(bars.error_x.array, [0.0, 0.3, 0.1])
    texts = [a.text for a in fig.layout.annotations]
    assert texts == ["-0.20", "+0.50 [+0.10, +0.80]", "+0.90 [+0.60, +1.00]"]
    assert correlation_bars(corr).data[0].error_x.array is None  # no intervals, no whiskers


def test_score_scatter_draws_both_intervals_and_the_tau_interval(tables):
    scores, _, gt = tables
    fig = score_vs_groundtruth(scores["logme"], gt, metric_label="LogME",
                               score_halfwidth=pd.Series(0.1, index=MODELS),
                               accuracy_halfwidth=pd.Series({"offline/a": 0.02}), tau_text="+1.00 [+0.40, +1.00]")
    point = fig.data[0]
    np.testing.assert_allclose(point.error_x.array, [0.1] * 4)
    np.testing.assert_allclose(point.error_y.array, [0.02, 0, 0, 0])
    assert fig.layout.title.text.endswith("weighted τ = +1.00 [+0.40, +1.00]")


def _noisy_table():
    from transvis.ordering import tolerant_ranks
    from transvis.ranking import RankingTable
    from transvis.uncertainty import Resampling, ScoreNoise

    scores = pd.DataFrame({"logme": [1.0, 0.99, 0.2], "nleep": [0.3, 0.2, 0.1]}, index=MODELS[:3])
    ranks = pd.DataFrame({m: tolerant_ranks(scores[m].to_dict()) for m in scores}, dtype=float)
    rng = np.random.default_rng(0)
    noise = ScoreNoise(estimate=scores["logme"].to_dict(),
                       replicates={m: v + 0.05 * rng.standard_normal(10) for m, v in scores["logme"].items()},
                       factor={m: 4.0 for m in MODELS[:3]}, signature={m: "s" for m in MODELS[:3]},
                       resampling=Resampling())
    from transvis.metrics import MetricResult

    results = {m: {model: MetricResult(m, float(v)) for model, v in scores[m].items()} for m in scores}
    results["nleep"]["offline/c"] = MetricResult("nleep", 0.1, degenerate="at its lower bound: add images")
    return RankingTable(scores=scores, ranks=ranks, results=results, noise={"logme": noise},
                        groundtruth={"offline/a": 0.85, "offline/b": 0.84, "offline/c": 0.5})


def test_noise_cells_write_score_plus_minus_se_and_tiers():
    table = _noisy_table()
    gt = pd.Series(table.groundtruth)
    cells = noise_cells(table, "scores", gt, {m: 900 for m in MODELS[:3]})
    text = cells.text
    assert text.loc["a", "logme"].endswith("≈1") and text.loc["b", "logme"].endswith("≈1")
    assert "±" in text.loc["a", "logme"] and "≈" not in text.loc["c", "logme"]
    assert text.loc["a", "ground truth"].startswith("0.850 ± 0.01") and text.loc["a", "ground truth"].endswith("≈1")
    assert "±" not in text.loc["a", "nleep"] and "not estimated" in cells.noted["nleep"]
    assert text.loc["c", "nleep"].startswith("⚠") and cells.degenerate.loc["c", "nleep"]
    assert cells.tier.loc["a", "logme"] == cells.tier.loc["b", "logme"] == 1 and cells.tier.loc["c", "logme"] == 0
    # the numbers stay numbers (sortable); the Styler shows the text and shades the tier
    assert cells.values.loc["a", "logme"] == 1.0
    html = styled_leaderboard(cells).to_html()
    assert text.loc["a", "logme"] in html and "background-color" in html
    ranks = noise_cells(table, "ranks", gt, None).text
    assert ranks.loc["b", "logme"].startswith("2 (1–2)")
    assert "±" not in ranks.loc["a", "ground-truth rank"]


def test_score_intervals_table_lists_every_score_with_its_interval():
    table = _noisy_table()
    rows = score_intervals_table(table, groundtruth_n={m: 900 for m in MODELS[:3]})
    logme = rows[rows.metric == "logme"].set_index("model")
    assert (logme["low"] < logme["score"]).all() and (logme["score"] < logme["high"]).all()
    assert logme.loc["a", "tier size"] == 2 and logme.loc["a", "ranks"] == "1–2"
    nleep = rows[rows.metric == "nleep"].set_index("model")
    assert nleep["se"].isna().all() and nleep.loc["a", "note"] == "noise not estimated"
    assert "at its lower bound" in nleep.loc["c", "note"]
    truth = rows[rows.metric == GROUNDTRUTH_LABEL].set_index("model")
    assert truth.loc["a", "se"] == pytest.approx((0.85 * 0.15 / 900) ** 0.5)


def test_a_two_column_bump_chart_names_each_line_where_it_ends_with_its_tier():
    ranks = pd.DataFrame({"before": {"m/a": 1, "m/b": 2, "m/c": 2, "m/d": 4},
                          "after": {"m/a": 4, "m/b": 1, "m/c": 1, "m/d": 3}})
    fig = rank_bump_chart(ranks, title="before → after", tiers={"after": [["m/b", "m/c"], ["m/d", "m/a"]]})
    assert list(fig.layout.yaxis2.tickvals) == [1.0, 3.0, 4.0]
    # b and c tie at 1 (equal scores); d and a are within noise of each other: ranks 3–4, not ordered
    assert list(fig.layout.yaxis2.ticktext) == ["#1 b = c", "#3–4 ≈ d", "#3–4 ≈ a"]
    assert fig.layout.yaxis2.overlaying == "y" and fig.layout.yaxis2.matches == "y"
    assert [t.name for t in model_traces(fig)] == ["a", "b", "c", "d"]
    assert not any(t.showlegend for t in model_traces(fig))  # named on the axis, not in a legend
    many = rank_bump_chart(pd.DataFrame({"x": ranks["before"], "y": ranks["after"], "z": ranks["after"]}))
    assert "yaxis2" not in many.to_dict()["layout"] and all(t.showlegend is None for t in model_traces(many))
