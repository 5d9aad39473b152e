"""Method-quantity figures, deep-dive helpers, thumbnails and exports (no browser needed except GIF/PNG)."""

import base64
import io
import shutil

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from PIL import Image

from transvis.metrics import MetricResult
from transvis.viz import model_colors
from transvis.viz.animation import ranking_race
from transvis.viz.deepdive import hardest_samples, per_class_heatmap, per_class_table
from transvis.viz.export import (
    animation_gif,
    figure_bytes,
    figure_html,
    frame_figures,
    html_report,
    image_export_available,
)
from transvis.viz.methods import (
    before_after_bars,
    curves,
    gram_vs_etf,
    histograms,
    matrix_heatmap,
    per_class_bars,
    small_multiples_bars,
    spectrum_plot,
)
from transvis.viz.thumbnails import sample_table, thumbnail_data_url

MODELS = ["m/a", "m/b"]


def test_before_after_bars_pairs_values_per_model():
    fig = before_after_bars(pd.Series([1.0, 2.0], index=MODELS), pd.Series([0.5, 2.5], index=MODELS), "score")
    assert [t.name for t in fig.data] == ["before", "after"]
    assert list(fig.data[0].y) == ["a", "b"] and {t.orientation for t in fig.data} == {"h"}
    assert list(fig.data[1].x) == [0.5, 2.5] and fig.layout.yaxis.autorange == "reversed"  # first model on top
    assert list(fig.data[1].marker.color) == [model_colors(MODELS)[m] for m in MODELS]


def test_before_after_bars_draw_the_after_scores_intervals_as_whiskers():
    fig = before_after_bars(pd.Series([1.0, 2.0], index=MODELS), pd.Series([0.5, 2.5], index=MODELS), "score",
                            after_error=pd.Series([0.2, 0.1], index=MODELS[::-1]), level=0.9)
    assert fig.data[1].name == "after (whiskers: 90% interval)"
    assert list(fig.data[1].error_x.array) == [0.1, 0.2] and fig.data[1].error_x.visible
    assert fig.data[0].error_x.array is None  # the "before" scores' noise is not this table's


def test_small_multiples_one_horizontal_panel_per_quantity_models_named_once():
    table = pd.DataFrame({"nc1": [2.0, 1.0], "nc4": [0.5, 0.9], "face": [0.1, 0.3]}, index=MODELS)
    fig = small_multiples_bars(table, titles={"nc1": "NC1"}, cols=2)
    assert len(fig.data) == 3
    assert [a.text for a in fig.layout.annotations] == ["NC1", "nc4", "face"]
    assert list(fig.data[1].x) == [0.5, 0.9] and list(fig.data[1].y) == ["a", "b"]
    assert {t.orientation for t in fig.data} == {"h"}
    assert fig.data[2].xaxis == "x3" and fig.data[2].yaxis == "y3"
    # one y axis per row: the second panel of a row reads the first one's model names
    assert fig.layout.yaxis2.matches == "y" and fig.layout.yaxis.autorange == "reversed"
    assert all(t.error_x.array is None for t in fig.data)


def test_small_multiples_draw_the_intervals_a_quantity_has_and_say_which_have_none():
    table = pd.DataFrame({"nc1": [2.0, 1.0], "nc4": [0.5, 0.9]}, index=MODELS)
    fig = small_multiples_bars(table, titles={"nc1": "NC1 within/between variability"}, cols=2,
                               intervals={"nc1": {"m/a": (1.5, 2.75), "m/b": (0.8, 1.1)}}, level=0.9)
    whiskers = fig.data[0].error_x
    assert whiskers.symmetric is False
    np.testing.assert_allclose(whiskers.array, [0.75, 0.1])
    np.testing.assert_allclose(whiskers.arrayminus, [0.5, 0.2])
    assert fig.data[1].error_x.array is None
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0] == "NC1 within/between<br>variability<br><sup>whiskers: 90% interval</sup>"
    assert titles[1] == "nc4<br><sup>no interval</sup>"


def test_small_multiples_rows_leave_room_for_the_next_rows_titles():
    table = pd.DataFrame(np.ones((12, 9)), index=[f"m/{i}" for i in range(12)], columns=list("abcdefghi"))
    fig = small_multiples_bars(table, cols=5)
    top_of_row_2 = fig.layout.yaxis6.domain[1]
    bottom_of_row_1 = fig.layout.yaxis.domain[0]
    plot_height = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    assert (bottom_of_row_1 - top_of_row_2) * plot_height == pytest.approx(95)


def test_per_class_bars_and_heatmaps():
    fig = per_class_bars({"m/a": [0.1, 0.2, 0.3]}, ["u", "v", "w"], "posterior")
    assert list(fig.data[0].x) == ["u", "v", "w"] and list(fig.data[0].y) == [0.1, 0.2, 0.3]
    heat = matrix_heatmap(np.eye(3), ["u", "v", "w"], zmin=0, zmax=1)
    np.testing.assert_array_equal(np.asarray(heat.data[0].z), np.eye(3))
    with pytest.raises(ValueError, match="labels"):
        matrix_heatmap(np.eye(3), ["u", "v"])
    etf = np.full((3, 3), -0.5) + 1.5 * np.eye(3)
    pair = gram_vs_etf(np.eye(3), etf, ["u", "v", "w"], distance=1.2)
    assert len(pair.data) == 2 and "1.200" in pair.layout.title.text
    np.testing.assert_array_equal(np.asarray(pair.data[1].z), etf)


def test_curves_threshold_histograms_and_spectrum():
    fig = curves([1, 2, 3], {"m/a": [1.0, 0.8, 0.4], "m/b": [1.0, 0.3]}, "step", "ratio", threshold=0.5)
    assert len(fig.data[1].x) == 2  # shorter series keep their own length
    assert fig.layout.shapes[0].y0 == 0.5
    hist = histograms({"m/a": [0.1, 0.2], "m/b": [0.3, 0.9]}, "p", nbins=4)
    assert hist.data[0].xbins.start == pytest.approx(0.1)
    assert hist.data[0].xbins.size == pytest.approx(0.2)
    spec = spectrum_plot({"m/a": [0.1, 10.0, 1.0, 0.0]}, top=3)
    np.testing.assert_allclose(spec.data[0].y, [10.0, 1.0, 0.1])
    assert spec.layout.yaxis.type == "log"


def test_per_class_table_reads_documented_traces():
    names = ["u", "v"]
    results = {
        "sfda": MetricResult("sfda", 0.5, {"class_posterior": np.array([0.9, 0.1])}),
        "nc": MetricResult("nc", 0.1, {"nc1_per_class": np.array([0.2, 0.8])}),
        "logme": MetricResult("logme", 0.0, {"evidence": np.array([1.0])}),  # wrong length: skipped
    }
    table = per_class_table(results, names)
    assert list(table.columns) == ["SFDA posterior ↑", "NC1 share ↓"]
    fig = per_class_heatmap(table)
    # class u helps both scores (high posterior, low NC1 share): top rank in both columns
    np.testing.assert_allclose(np.asarray(fig.data[0].z)[0], [1.0, 1.0])
    with pytest.raises(ValueError, match="no per-class"):
        per_class_heatmap(pd.DataFrame(index=names))


def test_hardest_samples_lowest_first_and_per_class():
    posterior = np.array([0.9, 0.1, 0.5, 0.05, 0.7])
    labels = np.array([0, 0, 1, 1, 1])
    np.testing.assert_array_equal(hardest_samples(posterior, 3), [3, 1, 2])
    np.testing.assert_array_equal(hardest_samples(posterior, 2, labels, only_class=1), [3, 2])
    with pytest.raises(ValueError, match="labels"):
        hardest_samples(posterior, 2, only_class=1)


def test_thumbnails_and_sample_table():
    digit = np.zeros((8, 8), dtype=np.uint8)
    digit[2:6, 3:5] = 255
    url = thumbnail_data_url(digit, size=32)
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.size == (32, 32) and np.asarray(image).max() == 255
    table = sample_table(np.array([0, 1, 1]), ["u", "v"], [2, 0], image_fn=lambda i: digit,
                         columns={"score": np.array([0.1, 0.2, 0.3])})
    assert list(table.columns) == ["thumbnail", "sample", "class", "score"]
    assert list(table["class"]) == ["v", "u"] and list(table["score"]) == [0.3, 0.1]
    assert table["thumbnail"][0].startswith("data:image/png;base64,")
    broken = sample_table(np.array([0]), ["u"], [0], image_fn=lambda i: 1 / 0)
    assert broken["thumbnail"][0] is None
    with pytest.raises(ValueError, match="indices"):
        sample_table(np.array([0]), ["u"], [3])


def test_html_exports_are_self_contained():
    fig = go.Figure(go.Bar(x=[1, 2], y=[3, 4]))
    page = figure_html(fig)
    assert page.lower().startswith("<!doctype html>") and "plotly" in page.lower()
    assert len(page) > 1_000_000  # plotly.js inlined: works offline
    assert len(figure_bytes(fig, "html")) == pytest.approx(len(page.encode()), abs=100)  # only div ids differ
    with pytest.raises(ValueError, match="format"):
        figure_bytes(fig, "bmp")
    report = html_report("My <report>", [("Scores", pd.DataFrame({"x": [1.5]})), ("Chart", fig), ("Bars", fig),
                                         ("Note", "a < b")])
    assert "My &lt;report&gt;" in report and "a &lt; b" in report
    assert report.count("<table") == 1
    assert len(report) < 1.5 * len(page)  # plotly.js inlined once for both charts
    assert report.count('class="plotly-graph-div"') == 2


def test_frame_figures_bake_each_frame():
    fig = ranking_race(pd.DataFrame([[2.0, 1.0], [1.0, 3.0]], columns=MODELS))
    statics = frame_figures(fig)
    assert len(statics) == 2 and not statics[1].frames
    assert list(statics[1].data[0].y) == list(fig.frames[1].data[0].y)
    assert not statics[1].layout.updatemenus and "frame 1" in statics[1].layout.title.text
    with pytest.raises(ValueError, match="no animation frames"):
        frame_figures(go.Figure())


@pytest.mark.skipif(not image_export_available() or shutil.which("chromium") is None, reason="needs chromium")
def test_png_and_gif_exports_with_chromium():
    fig = ranking_race(pd.DataFrame([[2.0, 1.0], [1.0, 3.0], [0.5, 3.5]], columns=MODELS))
    png = figure_bytes(fig, "png", width=400, height=300, scale=1)
    assert Image.open(io.BytesIO(png)).size == (400, 300)
    gif = Image.open(io.BytesIO(animation_gif(fig, width=400, height=300)))
    assert gif.n_frames == 3 and gif.size == (400, 300)


def test_distribution_boxes_one_box_per_model_with_its_statistics_and_outliers():
    from transvis.viz.methods import MAX_BOX_OUTLIERS, box_statistics, distribution_boxes

    # weights piled near 1 with a tail: one box per model, its statistics in the hover, the x axis named
    values = {"offline/a": np.r_[np.full(95, 0.999), np.linspace(0.2, 0.9, 5)], "offline/b": np.full(10, 0.5)}
    fig = distribution_boxes(values, "ConfMix mixing weight p", model_colors(list(values)), title="t")
    assert [t.type for t in fig.data] == ["box", "scatter", "box"]  # b has no outliers
    box, points = fig.data[0], fig.data[1]
    assert box.name == "a" and list(box.y) == ["a"] and box.orientation == "h"
    assert box.median == (0.999,) and box.q1 == (0.999,) and box.upperfence == (0.999,)
    np.testing.assert_allclose(points.x, np.linspace(0.2, 0.9, 5))  # the five outliers, all drawn
    assert "5 of 100 samples beyond the whiskers" in box.hovertext and "median 0.999" in box.hovertext
    assert fig.layout.xaxis.title.text == "ConfMix mixing weight p"
    # Tukey's box as plotly computes it from raw samples: linear quartiles, whiskers to the furthest samples
    # within 1.5 IQR
    rng = np.random.default_rng(0)
    a = np.r_[rng.normal(size=500), [8.0, -9.0, np.nan]]
    stats = box_statistics(a)
    q1, q3 = np.percentile(a[np.isfinite(a)], [25, 75])
    finite = a[np.isfinite(a)]
    inside = finite[(finite >= q1 - 1.5 * (q3 - q1)) & (finite <= q3 + 1.5 * (q3 - q1))]
    assert (stats["q1"], stats["q3"], stats["n"]) == (q1, q3, 502)
    assert stats["lowerfence"] == inside.min() and stats["upperfence"] == inside.max()
    assert set(stats["outliers"]) == set(finite[(finite < inside.min()) | (finite > inside.max())])
    assert {8.0, -9.0} <= set(stats["outliers"])
    # many outliers: at most MAX_BOX_OUTLIERS drawn, spread over them, the extremes kept, the hover says so
    tail = np.r_[np.zeros(1700), np.linspace(10, 20, 300)]
    crowded = distribution_boxes({"offline/c": tail}, "q")
    drawn = crowded.data[1].x
    assert len(drawn) == MAX_BOX_OUTLIERS and min(drawn) == 10 and max(drawn) == 20
    assert "of the 300 outliers drawn" in crowded.data[1].hovertemplate


def test_curves_mark_where_each_model_stopped():
    from transvis.viz.methods import curves

    ratios = {"offline/a": [1.0, 0.6, 0.4], "offline/b": [1.0, 0.9, 0.8]}
    fig = curves([1, 2, 3], ratios, "step", "ratio", model_colors(list(ratios)), threshold=0.5,
                 stops={"offline/a": (2, "step 3 below the exit ratio: stopped after 2 steps")})
    marks = [t for t in fig.data if t.name == "stopped here"]
    assert len(marks) == 1 and list(marks[0].x) == [3] and list(marks[0].y) == [0.4]
    assert "stopped after 2 steps" in marks[0].hovertemplate


def test_curves_of_many_models_put_the_legend_under_the_plot_and_grow_by_its_rows():
    """Twelve models' names at the side took most of a half-page column (the plot was ~70 px wide at 1280 × 720):
    above SIDE_LEGEND_MAX lines the legend goes under the plot, and the figure grows by the rows it needs in a
    half column, each item counted as wide as the longest name."""
    from transvis.viz.methods import FULL_WIDTH_COLUMN_PX, LEGEND_BELOW_PLOT_PX, LEGEND_ROW_PX, SIDE_LEGEND_MAX

    few = {f"offline/m{i}": [1.0, 0.5] for i in range(SIDE_LEGEND_MAX)}
    side = curves([1, 2], few, "step", "ratio")
    assert side.layout.legend.orientation is None and side.layout.height == 380
    ten = {f"offline/model_{i:04d}": [1.0, 0.5] for i in range(12)}  # 10 characters: 3 items per 420 px row
    below = curves([1, 2], ten, "step", "ratio")
    assert below.layout.legend.orientation == "h" and below.layout.legend.yanchor == "top"
    # its top LEGEND_BELOW_PLOT_PX under the plot area, which keeps its height (380 − 30 − 60 px, untitled)
    assert below.layout.legend.y == -LEGEND_BELOW_PLOT_PX / (380 - 30 - 60)
    assert below.layout.height == 380 + 4 * LEGEND_ROW_PX and below.layout.margin.b == 60 + 4 * LEGEND_ROW_PX
    long = {f"offline/efficientnet_lite{i} · random init": [1.0, 0.5] for i in range(12)}  # one per row
    assert curves([1, 2], long, "step", "ratio").layout.height == 380 + 12 * LEGEND_ROW_PX
    wide = curves([1, 2], long, "step", "ratio", legend_column_px=FULL_WIDTH_COLUMN_PX)  # 2 per row: 6 rows
    assert wide.layout.height == 380 + 6 * LEGEND_ROW_PX
    # "stopped here" is one more item (and the longest name): 13 items, 3 per row
    stopped = curves([1, 2], ten, "step", "ratio", stops={"offline/model_0000": (1, "stopped")})
    assert stopped.layout.height == 380 + 5 * LEGEND_ROW_PX
    assert spectrum_plot({m: [3.0, 1.0] for m in long}).layout.legend.orientation == "h"


def test_a_log_scale_curve_writes_powers_of_ten_not_si_prefixes():
    assert spectrum_plot({"offline/a": [3.0, 1e-6]}).layout.yaxis.exponentformat == "power"
    assert curves([1, 2], {"offline/a": [1.0, 0.5]}, "step", "ratio").layout.yaxis.exponentformat is None


def test_small_multiples_draw_an_unbounded_interval_past_the_panels_other_bars():
    table = pd.DataFrame({"nc1": [2.0, 1.0]}, index=MODELS)
    fig = small_multiples_bars(table, intervals={"nc1": {"m/a": (1.0, float("inf")), "m/b": (0.5, 1.5)}})
    np.testing.assert_allclose(fig.data[0].error_x.array, [1.5 * 2.0 - 2.0, 0.5])
    assert np.isfinite(fig.data[0].error_x.array).all()
