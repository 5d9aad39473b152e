"""The animated scatter + live ranking builders, on hand-made trajectories."""

import numpy as np
import pandas as pd
import pytest

from transvis.viz import class_colors, model_colors
from transvis.viz.animation import (
    MAX_ANIMATED_POINTS,
    animated_scatter,
    bar_slots,
    dynamics_figure,
    overtakes,
    race_margin,
    ranking_race,
    static_scatter,
    stratified_sample,
)

MODELS = ["m/a", "m/b", "m/c"]


def _trajectory(n_frames=4, n=90, n_classes=3, seed=0):
    """Samples moving linearly towards their class mean: positions [F, N, 2], centres [F, C, 2]."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n // n_classes)
    means = rng.normal(size=(n_classes, 2)) * 5
    start = means[labels] + rng.normal(size=(n, 2))
    t = np.linspace(0, 1, n_frames)[:, None, None]
    positions = start[None] * (1 - t) + means[labels][None] * t
    centres = np.stack([[positions[f][labels == c].mean(0) for c in range(n_classes)] for f in range(n_frames)])
    return positions, centres, labels


def _scores():
    # a leads, then c overtakes b at frame 1 and a at frame 2.
    return pd.DataFrame([[3.0, 2.0, 1.0], [3.0, 1.0, 2.0], [1.0, 0.5, 4.0]], columns=MODELS)


def test_stratified_sample_is_deterministic_proportional_and_keeps_small_classes():
    labels = np.array([0] * 9000 + [1] * 990 + [2] * 10)
    a = stratified_sample(labels, 1000, seed=1)
    b = stratified_sample(labels, 1000, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.size == 1000 and np.all(np.diff(a) > 0)
    counts = np.bincount(labels[a], minlength=3)
    assert counts[0] == 900 and counts[1] == 99 and counts[2] == 1
    assert not np.array_equal(a, stratified_sample(labels, 1000, seed=2))
    np.testing.assert_array_equal(stratified_sample(labels[:50], 1000), np.arange(50))


def test_stratified_sample_rejects_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        stratified_sample(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="classes"):
        stratified_sample(np.arange(10), 5)


def test_overtakes_lists_who_passed_whom():
    assert overtakes({"a": 1, "b": 2, "c": 3}, {"a": 2, "b": 3, "c": 1}) == [("c", "a"), ("c", "b")]
    assert overtakes({"a": 1, "b": 2}, {"a": 1, "b": 2}) == []


def test_bar_slots_separate_ties():
    scores = pd.Series({"x": 2.0, "y": 2.0, "z": 1.0})
    ranks = pd.Series({"x": 1.0, "y": 1.0, "z": 3.0})
    assert bar_slots(scores, ranks).to_dict() == {"x": 1.0, "y": 2.0, "z": 3.0}


def test_animated_scatter_frames_follow_the_trajectory():
    positions, centres, labels = _trajectory()
    fig = animated_scatter(positions, labels, ["u", "v", "w"], centres=centres,
                           frame_names=["0", "1/3", "2/3", "1"])
    assert len(fig.frames) == 4
    assert [f.name for f in fig.frames] == ["0", "1/3", "2/3", "1"]
    for f, frame in enumerate(fig.frames):
        np.testing.assert_allclose(frame.data[0].x, positions[f][:, 0])
        np.testing.assert_allclose(frame.data[1].y, centres[f][:, 1])
    # initial data is frame 0; no WebGL anywhere in the animation
    np.testing.assert_allclose(fig.data[0].x, positions[0][:, 0])
    assert all(tr.type == "scatter" for fr in fig.frames for tr in fr.data)
    # colour by true label with the shared class palette; customdata = sample index
    palette = class_colors(3)
    assert fig.data[0].marker.color[0] == palette[labels[0]]
    np.testing.assert_array_equal(np.asarray(fig.data[0].customdata)[:, 0], np.arange(labels.size))
    # legend: one entry per class
    assert [t.name for t in fig.data[2:]] == ["u", "v", "w"]
    # play, pause, slider with one step per frame, fixed axis range covering every frame
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["▶ Play", "❚❚ Pause"]
    assert len(fig.layout.sliders[0].steps) == 4
    x_range = fig.layout.xaxis.range
    assert x_range[0] <= positions[..., 0].min() and x_range[1] >= positions[..., 0].max()


def test_animated_scatter_samples_at_most_max_points_and_colours_continuously():
    positions, _, labels = _trajectory(n_frames=2, n=300)
    contribution = np.linspace(0, 1, 300)
    fig = animated_scatter(positions, labels, ["u", "v", "w"], color=contribution, color_label="contrib",
                           max_points=60)
    keep = stratified_sample(labels, 60)
    assert len(fig.frames[1].data[0].x) == 60
    np.testing.assert_allclose(fig.frames[1].data[0].marker.color, contribution[keep])
    np.testing.assert_allclose(fig.data[0].marker.color, contribution[keep])
    np.testing.assert_array_equal(np.asarray(fig.data[0].customdata)[:, 0], keep)
    assert fig.data[0].marker.colorscale is not None


def test_continuous_colour_changing_per_frame_has_one_range_for_all_frames():
    positions, _, labels = _trajectory(n_frames=3, n=30)
    contribution = np.stack([np.linspace(0, 1, 30), np.linspace(-2, 0, 30), np.full(30, 5.0)])
    fig = animated_scatter(positions, labels, ["u", "v", "w"], color=contribution)
    for f, frame in enumerate(fig.frames):
        np.testing.assert_allclose(frame.data[0].marker.color, contribution[f])
        assert (frame.data[0].marker.cmin, frame.data[0].marker.cmax) == (-2.0, 5.0)
    assert (fig.data[0].marker.cmin, fig.data[0].marker.cmax) == (-2.0, 5.0)


def test_frames_carry_only_what_changes_and_steps_update_in_place():
    positions, centres, labels = _trajectory(n_frames=3)
    fig = dynamics_figure(positions, labels, ["u", "v", "w"], _scores(), centres=centres)
    samples, centre_trace = fig.frames[1].data[:2]
    for trace in (samples, centre_trace):  # sample ids, hover text and the centres' style stay on the traces
        assert trace.customdata is None and trace.text is None and trace.hovertemplate is None
        assert trace.mode is None
    assert centre_trace.marker.color is None and samples.marker.color is not None
    assert fig.data[0].customdata is not None and fig.data[0].text is not None
    np.testing.assert_allclose(samples.x, positions[1][:, 0])
    # the ranking bars still change every frame
    assert list(fig.frames[1].data[2].y) != list(fig.frames[0].data[2].y)
    # slider steps and Play animate without a full redraw, slider steps without a transition
    steps = fig.layout.sliders[0].steps
    assert all(step.args[1]["frame"]["redraw"] is False for step in steps)
    assert all(step.args[1]["transition"]["duration"] == 0 for step in steps)
    play = fig.layout.updatemenus[0].buttons[0].args[1]
    assert play["frame"]["redraw"] is False and play["transition"]["duration"] > 0


def test_animated_scatter_per_frame_categorical_colour():
    positions, _, labels = _trajectory(n_frames=2)
    predicted = np.stack([labels, np.zeros_like(labels)])
    fig = animated_scatter(positions, labels, ["u", "v", "w"], color=predicted)
    palette = class_colors(3)
    assert set(fig.frames[1].data[0].marker.color) == {palette[0]}
    assert len(set(fig.frames[0].data[0].marker.color)) == 3


def test_animated_scatter_rejects_mismatched_shapes():
    positions, centres, labels = _trajectory()
    with pytest.raises(ValueError, match="samples"):
        animated_scatter(positions, labels[:-1], ["u", "v", "w"])
    with pytest.raises(ValueError, match="frames"):
        animated_scatter(positions, labels, ["u", "v", "w"], centres=centres[:2])
    with pytest.raises(ValueError, match="distinct"):
        animated_scatter(positions, labels, ["u", "v", "w"], frame_names=["a", "a", "b", "c"])


def test_ranking_race_resorts_and_highlights_overtakes():
    fig = ranking_race(_scores(), metric_label="LogME")
    assert len(fig.frames) == 3
    bars = [fr.data[0] for fr in fig.frames]
    # y = bar slot: frame 0 a, b, c = 1, 2, 3; frame 2 c first, then a, b.
    assert list(bars[0].y) == [1, 2, 3]
    assert list(bars[2].y) == [2, 3, 1]
    # bar spans base..score, so base + x is the score
    np.testing.assert_allclose(np.asarray(bars[2].x) + bars[2].base, [1.0, 0.5, 4.0])
    labels = list(bars[1].text)
    assert labels[0] == "a" and "▼1" in labels[1] and "▲1" in labels[2] and labels[2].startswith("c ")
    assert "c overtakes b" in fig.frames[1].data[1].text[0]
    assert "c overtakes a" in fig.frames[2].data[1].text[0]
    assert list(bars[0].text) == ["a", "b", "c"] and [t.strip() for t in fig.frames[0].data[1].text] == [""]
    # moved bars are outlined by closed rectangles of the "rank changes" trace (b now at slot 3, c at 2)
    changes = fig.frames[1].data[1]
    ys = np.array([np.nan if v is None else v for v in changes.y], dtype=float)
    rectangles = np.split(ys[1:], np.flatnonzero(np.isnan(ys[1:]))[1:])
    assert sorted((np.nanmin(r) + np.nanmax(r)) / 2 for r in rectangles) == pytest.approx([2.0, 3.0])
    xs = np.array([np.nan if v is None else v for v in changes.x], dtype=float)[1:]
    assert np.nanmax(xs) == pytest.approx(bars[1].base + max(bars[1].x[1], bars[1].x[2]))
    assert list(fig.frames[0].data[1].x) == [fig.frames[0].data[1].x[0]]  # frame 0: caption only
    colors = model_colors(MODELS)
    assert list(bars[0].marker.color) == [colors[m] for m in MODELS]


def test_ranking_race_uses_given_ranks_and_checks_shape():
    scores = _scores()
    ranks = pd.DataFrame([[1, 1, 3]] * 3, columns=MODELS, dtype=float)
    fig = ranking_race(scores, ranks)
    assert list(fig.frames[1].data[0].customdata[:, 1]) == ["1", "1", "3"]
    with pytest.raises(ValueError, match="same shape"):
        ranking_race(scores, ranks.iloc[:2])


def test_dynamics_figure_shares_frames_between_scatter_and_ranking():
    positions, centres, labels = _trajectory(n_frames=3)
    fig = dynamics_figure(positions, labels, ["u", "v", "w"], _scores(), centres=centres,
                          frame_names=["s=0", "s=1", "s=2"], metric_label="LogME", title="demo")
    assert len(fig.frames) == 3
    frame = fig.frames[2]
    kinds = [tr.type for tr in frame.data]
    assert kinds == ["scatter", "scatter", "bar", "scatter"]
    # the frame's trace indices point at the right traces of the figure
    assert [fig.data[i].type for i in frame.traces] == kinds
    assert fig.data[frame.traces[2]].xaxis == "x2"
    np.testing.assert_allclose(frame.data[0].y, positions[2][:, 1])
    assert list(frame.data[2].y) == [2, 3, 1]
    with pytest.raises(ValueError, match="frames"):
        dynamics_figure(positions, labels, ["u", "v", "w"], _scores().iloc[:2])


def test_dynamics_figure_stays_within_point_budget():
    labels = np.repeat(np.arange(4), 1500)
    positions = np.random.default_rng(0).normal(size=(2, labels.size, 2))
    scores = pd.DataFrame([[1.0, 2.0], [2.0, 1.0]], columns=["p", "q"])
    fig = dynamics_figure(positions, labels, list("abcd"), scores)
    assert len(fig.frames[0].data[0].x) == MAX_ANIMATED_POINTS
    assert all(tr.type in ("scatter", "bar") for fr in fig.frames for tr in fr.data)


def test_static_scatter_uses_full_set_and_webgl_only_when_large():
    labels = np.repeat(np.arange(3), 20)
    pos = np.random.default_rng(1).normal(size=(60, 2))
    fig = static_scatter(pos, labels, ["u", "v", "w"])
    assert [t.type for t in fig.data] == ["scatter"] * 3
    assert sum(len(t.x) for t in fig.data) == 60
    np.testing.assert_array_equal(np.asarray(fig.data[1].customdata)[:, 0], np.arange(20, 40))
    big = static_scatter(np.zeros((60, 2)), labels, ["u", "v", "w"], webgl_above=10)
    assert big.data[0].type == "scattergl"
    assert not big.frames


def test_trajectory_view_reads_engine_frames_and_paired_figure_syncs_two_models():
    from types import SimpleNamespace

    from transvis.viz.animation import paired_dynamics_figure, trajectory_view

    positions, centres, labels = _trajectory(n_frames=3)
    scores = _scores()

    class Lazy(dict):  # stands in for the engine's lazy per-model mappings
        pass

    frames = [SimpleNamespace(
        label=f"t = {f / 2:.2f}", positions={m: positions[f] + k for k, m in enumerate(MODELS)},
        centres={m: centres[f] + k for k, m in enumerate(MODELS)}, scores=scores.iloc[f].to_dict(),
        ranks=scores.iloc[f].rank(ascending=False, method="min").to_dict(),
        predicted=Lazy({m: labels for m in MODELS}), contribution=None) for f in range(3)]
    traj = SimpleNamespace(frames=frames, models=MODELS, projection_name="PCA")
    view = trajectory_view(traj, "m/b")
    np.testing.assert_allclose(view.positions[2], positions[2] + 1)
    assert view.frame_names == ["t = 0.00", "t = 0.50", "t = 1.00"]
    assert view.ranks.loc[2, "m/c"] == 1 and view.projection == "PCA"
    np.testing.assert_array_equal(view.predicted[1], labels) and view.contribution is None
    with pytest.raises(ValueError, match="no frames"):
        trajectory_view(SimpleNamespace(frames=[]), "m/a")

    fig = paired_dynamics_figure([("m/a", trajectory_view(traj, "m/a")), ("m/b", view)], labels, ["u", "v", "w"])
    assert len(fig.frames) == 3
    frame = fig.frames[2]
    assert [t.type for t in frame.data] == ["scatter", "scatter", "scatter", "scatter", "bar", "scatter"]
    np.testing.assert_allclose(frame.data[0].x, positions[2][:, 0])
    np.testing.assert_allclose(frame.data[2].x, positions[2][:, 0] + 1)
    assert fig.data[frame.traces[2]].xaxis == "x2" and fig.data[frame.traces[4]].xaxis == "x3"
    with pytest.raises(ValueError, match="exactly two"):
        paired_dynamics_figure([("m/a", view)], labels, ["u", "v", "w"])


def test_ranking_names_get_a_right_margin_as_wide_as_the_longest_name():
    """Names are written past the bar ends, beyond the race's axis: the figure's right margin holds them, so
    a long name (xception_kitchenware) is not cut at the figure's edge."""
    short, long = race_margin(["m/a", "m/b"]), race_margin(["offline/xception_kitchenware", "m/b"])
    assert long - short == int(0.62 * 12 * len("xception_kitchenware")) - int(0.62 * 12 * len("a"))
    assert long >= 7 * len("xception_kitchenware") + 30  # ~7 px per 12-px character, plus the ▲k mark
    positions, centres, labels = _trajectory(n_frames=3)
    scores = _scores()
    fig = dynamics_figure(positions, labels, ["u", "v", "w"], scores, centres=centres)
    assert fig.layout.margin.r == race_margin(scores.columns)
    race = ranking_race(scores)
    assert race.layout.margin.r == race_margin(scores.columns)
    # the bars' axis ends just past the best score: the names live in the margin, not in axis headroom
    values = scores.to_numpy()
    lo, hi = values.min(), values.max()
    assert race.layout.xaxis.range[1] == pytest.approx(hi + 0.15 * (hi - lo))
