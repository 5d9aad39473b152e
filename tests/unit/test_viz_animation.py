"""The animated scatter + live ranking builders, on hand-made trajectories."""

import re

import numpy as np
import pandas as pd
import pytest

from transvis.viz import class_colors, model_colors
from transvis.viz.animation import (
    MAX_ANIMATED_POINTS,
    MAX_START_POINTS,
    RaceNotes,
    animated_scatter,
    bar_slots,
    color_range,
    dynamics_figure,
    overtakes,
    race_margin,
    race_notes,
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
    fig = animated_scatter(positions, labels, ["u", "v", "w"], color=contribution, color_label="contribution")
    # one range for every frame: the 5th–95th percentiles of all values (a third of them sit at 5.0)
    low, high = np.percentile(contribution, [5, 95])
    assert high == 5.0 and -2.0 < low < -1.5
    for f, frame in enumerate(fig.frames):
        np.testing.assert_allclose(frame.data[0].marker.color, contribution[f])
        assert (frame.data[0].marker.cmin, frame.data[0].marker.cmax) == pytest.approx((low, high))
    assert (fig.data[0].marker.cmin, fig.data[0].marker.cmax) == pytest.approx((low, high))
    # the colour bar says that the ends are clamped, with its title along the bar (not over the plot)
    assert fig.data[0].marker.colorbar.title.text == "contribution (5–95 % range)"
    assert fig.data[0].marker.colorbar.title.side == "right"


def test_near_uniform_contributions_still_spread_over_the_colour_scale():
    """True-class posteriors ≈ 1 for most samples and a few near 0: the colour range is the bulk's, not 0..1."""
    positions, _, labels = _trajectory(n_frames=2, n=99)
    posterior = np.concatenate([np.full(3, 0.01), np.linspace(0.97, 1.0, 96)])
    fig = animated_scatter(positions, labels, ["u", "v", "w"], color=posterior)
    assert fig.data[0].marker.cmin > 0.96 and fig.data[0].marker.cmax == pytest.approx(0.9985, abs=1e-3)
    assert color_range(np.full(4, 0.5))[:2] == (0.5, 0.5)


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


def _race(fig, f):
    """Frame ``f``'s race traces: bars, whiskers (+ baseline), labels, caption + outlines, ≈ brackets, ticks."""
    return fig.frames[f].data[-6:]


def _scores_of(fig, f, x):
    """Race positions (the fixed [0, 1] axis) back in score units, through the frame's own axis."""
    left, right = _race(fig, f)[5].meta["range"]
    return left + np.asarray(x, dtype=float) * (right - left)


def test_ranking_race_resorts_and_highlights_overtakes():
    fig = ranking_race(_scores(), metric_label="LogME")
    assert len(fig.frames) == 3
    assert [t.type for t in fig.frames[0].data] == ["bar"] + ["scatter"] * 5
    bars = [_race(fig, f)[0] for f in range(3)]
    # y = bar slot: frame 0 a, b, c = 1, 2, 3; frame 2 c first, then a, b.
    assert list(bars[0].y) == [1, 2, 3]
    assert list(bars[2].y) == [2, 3, 1]
    # bar spans the frame's baseline..score, so base + x is the score (on the frame's own axis)
    np.testing.assert_allclose(_scores_of(fig, 2, np.asarray(bars[2].x) + bars[2].base), [1.0, 0.5, 4.0])
    assert _scores_of(fig, 2, bars[2].base) == pytest.approx(_race(fig, 2)[5].meta["baseline"])
    labels = list(_race(fig, 1)[2].text)
    assert labels[0] == "#1 a" and labels[1] == "#3 b <span style='color:#d62728'><b>▼1</b></span>"
    assert labels[2].startswith("#2 c ") and "▲1" in labels[2]
    assert "c overtakes b" in _race(fig, 1)[3].text[0]
    assert "c overtakes a" in _race(fig, 2)[3].text[0]
    assert list(_race(fig, 0)[2].text) == ["#1 a", "#2 b", "#3 c"]
    assert {t.strip() for t in _race(fig, 0)[3].text} == {""}  # frame 0: no caption
    # labels sit past each bar's end
    np.testing.assert_array_less(_scores().iloc[1].to_numpy(), _scores_of(fig, 1, _race(fig, 1)[2].x))
    # moved bars are outlined by closed rectangles of the "rank changes" trace (b now at slot 3, c at 2)
    changes = _race(fig, 1)[3]
    ys = np.array([np.nan if v is None else v for v in changes.y], dtype=float)
    rectangles = [r for r in np.split(ys[1:], np.flatnonzero(np.isnan(ys[1:]))[1:]) if np.isfinite(r).any()]
    assert sorted((np.nanmin(r) + np.nanmax(r)) / 2 for r in rectangles) == pytest.approx([2.0, 3.0])
    xs = np.array([np.nan if v is None else v for v in changes.x], dtype=float)[1:]
    assert np.nanmax(xs) == pytest.approx(bars[1].base + max(bars[1].x[1], bars[1].x[2]))
    assert [x for x in _race(fig, 0)[3].x if x is not None] == [_race(fig, 0)[3].x[0]]  # frame 0: no outline
    # every frame has the same number of points per trace, so plotly steps them in place
    assert {tuple(len(t.x) for t in _race(fig, f)) for f in range(3)} == {tuple(len(t.x) for t in _race(fig, 0))}
    colors = model_colors(MODELS)
    assert list(bars[0].marker.color) == [colors[m] for m in MODELS]
    # no noise: the axis says so, and no whiskers are drawn (the whisker trace holds the baseline only)
    assert "noise not estimated" in fig.layout.xaxis.title.text and "not at 0" in fig.layout.xaxis.title.text
    assert [x for x in _race(fig, 0)[1].x if x is not None] == [bars[0].base, bars[0].base]


def test_ranking_race_uses_given_ranks_and_checks_shape():
    scores = _scores()
    ranks = pd.DataFrame([[1, 1, 3]] * 3, columns=MODELS, dtype=float)
    fig = ranking_race(scores, ranks)
    assert [row[1] for row in _race(fig, 1)[0].customdata] == ["1", "1", "3"]
    # models sharing a rank are bracketed with "=" (float ties: no noise known)
    brackets = _race(fig, 1)[4]
    assert "=" in brackets.text and sorted(v for v in brackets.y if v is not None)[0] == pytest.approx(0.7)
    with pytest.raises(ValueError, match="same shape"):
        ranking_race(scores, ranks.iloc[:2])


def test_float_ties_share_a_rank_and_keep_pool_order():
    """Scores equal up to rounding (1e-16 relative) are one rank; their bars keep pool order at every frame."""
    base = 0.3114
    scores = pd.DataFrame([[base, base * (1 + 2e-16), 0.2], [base * (1 + 2e-16), base, 0.2]], columns=MODELS)
    fig = ranking_race(scores)
    for f in range(2):
        bar = _race(fig, f)[0]
        assert list(bar.y) == [1, 2, 3] and [row[1] for row in bar.customdata] == ["1", "1", "3"]
        assert "overtakes" not in _race(fig, f)[3].text[0]
    assert bar_slots(scores.iloc[1], pd.Series({"m/a": 1.0, "m/b": 1.0, "m/c": 3.0})).to_dict() == \
        {"m/a": 1.0, "m/b": 2.0, "m/c": 3.0}


def _noisy_race():
    """Three frames: b passes a within noise (frame 1), then everything is within noise (frame 2)."""
    scores = pd.DataFrame([[1.0, 0.98, 0.5], [0.99, 1.0, 0.5], [0.80, 0.81, 0.805]], columns=MODELS)
    notes = RaceNotes(
        half_widths={"m/a": 0.05, "m/b": 0.04, "m/c": 0.05}, level=0.95,
        tiers=[[["m/a", "m/b"], ["m/c"]], [["m/b", "m/a"], ["m/c"]], [["m/b", "m/c", "m/a"]]],
        overtakes=[[], [], []], within_noise=[[], [("m/b", "m/a")], [("m/c", "m/a")]],
        rank_changes=[{m: 0 for m in MODELS}] * 3,
        notes=[None, None, "All 3 models within noise: no ranking at this step"])
    return scores, notes


def test_the_race_shows_noise_whiskers_groups_and_within_noise_instead_of_overtakes():
    scores, notes = _noisy_race()
    fig = ranking_race(scores, race=notes, metric_label="LogME")
    bar, whiskers, labels, caption, brackets, _ = _race(fig, 1)
    text = caption.text[0]
    assert "b passes a: within noise" in text and "overtakes" not in text
    assert all("▲" not in t and "▼" not in t for t in labels.text)  # no announced rank change
    # whiskers: ± the half-width around each score (after the baseline segment)
    xs = [v for v in whiskers.x[2:] if v is not None]
    xs = _scores_of(fig, 1, xs)
    for m, h in notes.half_widths.items():
        s = scores.loc[1, m]
        assert np.isclose(xs, s - h).any() and np.isclose(xs, s + h).any()
    assert "≈" in brackets.text
    assert "whiskers: 95% noise interval" in fig.layout.xaxis.title.text
    assert "0.99 ± 0.05" in bar.customdata[0][2] and "within noise of b" in bar.customdata[0][3]
    last = _race(fig, 2)[3].text[0]
    plain = " ".join(re.sub("<[^>]+>", "", line) for line in last.split("<br>"))
    assert "All 3 models within noise: no ranking at this step" in plain and "overtakes" not in last
    # a frame where every model is within noise of every other ranks nobody: each label is a tie, not "#1 b"
    assert sorted(_race(fig, 2)[2].text) == ["≈ a", "≈ b", "≈ c"]
    assert list(_race(fig, 1)[2].text)[1].startswith("#1 b")  # frame 1 still ranks b above c
    # labels are written past the whiskers, so the two never overlap
    assert min(_scores_of(fig, 1, labels.x) - (scores.loc[1] + pd.Series(notes.half_widths)).to_numpy()) > 0


def test_each_frame_zooms_the_race_axis_to_its_own_scores():
    scores = pd.DataFrame([[0.28, 0.30, 0.35], [8.7980, 8.7981, 8.7982]], columns=MODELS)
    fig = ranking_race(scores, race=RaceNotes(
        half_widths={m: 0.0002 for m in MODELS}, level=0.95, tiers=[[[m] for m in MODELS]] * 2,
        overtakes=[[], []], within_noise=[[], []], rank_changes=[{m: 0 for m in MODELS}] * 2, notes=[None, None]))
    ranges = [_race(fig, f)[5].meta["range"] for f in range(2)]
    assert fig.data[-1].meta["range"] == ranges[0]  # the figure opens on frame 0's axis
    assert list(fig.layout.xaxis.range) == [0.0, 1.0]  # the plotly axis is fixed; frames map onto it
    for f, (left, right) in enumerate(ranges):
        low, high = scores.iloc[f].min() - 0.0002, scores.iloc[f].max() + 0.0002
        assert left < low and high < right  # covers every whisker
        assert right - left < 2.0 * (high - low)  # and is zoomed to them: 0.28-0.35 fills the axis
        base = _scores_of(fig, f, _race(fig, f)[0].base)
        assert left < base < low  # bars start at a baseline inside the axis, below the lowest whisker
        # the frame's tick values are its own, round, inside its axis
        ticks = [float(t) for t in _race(fig, f)[5].text if t.strip()]
        assert len(ticks) >= 3 and all(base <= t <= right for t in ticks)
    assert ranges[1][0] > 8 > ranges[0][1]


def test_dynamics_figure_shares_frames_between_scatter_and_ranking():
    positions, centres, labels = _trajectory(n_frames=3)
    fig = dynamics_figure(positions, labels, ["u", "v", "w"], _scores(), centres=centres,
                          frame_names=["s=0", "s=1", "s=2"], metric_label="LogME", title="demo")
    assert len(fig.frames) == 3
    frame = fig.frames[2]
    kinds = [tr.type for tr in frame.data]
    assert kinds == ["scatter", "scatter", "bar"] + ["scatter"] * 5
    # the frame's trace indices point at the right traces of the figure
    assert [fig.data[i].type for i in frame.traces] == kinds
    assert fig.data[frame.traces[2]].xaxis == "x2"
    np.testing.assert_allclose(frame.data[0].y, positions[2][:, 1])
    assert list(frame.data[2].y) == [2, 3, 1]
    # each frame zooms the race to itself through data only (no layout in frames: plotly would transition
    # the axis apart from the traces)
    assert all(fr.layout.to_plotly_json() == {} for fr in fig.frames)
    left, right = frame.data[-1].meta["range"]
    assert left < 1.0 and right > 4.0
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
    assert [t.type for t in frame.data] == ["scatter"] * 4 + ["bar"] + ["scatter"] * 5
    np.testing.assert_allclose(frame.data[0].x, positions[2][:, 0])
    np.testing.assert_allclose(frame.data[2].x, positions[2][:, 0] + 1)
    assert fig.data[frame.traces[2]].xaxis == "x2" and fig.data[frame.traces[4]].xaxis == "x3"
    # three panels share the width: long names wrap instead of running into the next panel's title (1280 px)
    long = paired_dynamics_figure([("m/a rather long model name", trajectory_view(traj, "m/a")),
                                   ("m/b", view)], labels, ["u", "v", "w"], metric_label="shrinkage H-score")
    titles = [a.text for a in long.layout.annotations[:3]]
    assert titles[1] == "b" and all(len(line) <= 18 for t in titles for line in t.split("<br>"))
    assert titles[2] == "ranking by<br>shrinkage<br>H-score"
    with pytest.raises(ValueError, match="exactly two"):
        paired_dynamics_figure([("m/a", view)], labels, ["u", "v", "w"])


def test_ranking_names_get_a_right_margin_as_wide_as_the_longest_name():
    """Labels (``#rank name ▲k``) are written past the bar ends, beyond the race's axis: the figure's right
    margin holds them, so a long name (xception_kitchenware) is not cut at the figure's edge."""
    short, long = race_margin(["m/a", "m/b"]), race_margin(["offline/xception_kitchenware", "m/b"])
    assert long - short == int(0.62 * 12 * (len("xception_kitchenware") + 3)) - int(0.62 * 12 * (len("a") + 3))
    assert long >= 7 * len("#1 xception_kitchenware") + 30  # ~7 px per 12-px character, plus the ▲k mark
    positions, centres, labels = _trajectory(n_frames=3)
    scores = _scores()
    fig = dynamics_figure(positions, labels, ["u", "v", "w"], scores, centres=centres)
    assert fig.layout.margin.r == race_margin(scores.columns)
    race = ranking_race(scores)
    assert race.layout.margin.r == race_margin(scores.columns)
    # the bars' axis ends just past the frame's best score: the names live in the margin, not in axis headroom
    lo, hi = scores.iloc[0].min(), scores.iloc[0].max()
    assert race.frames[0].data[-1].meta["range"][1] == pytest.approx(hi + 0.06 * (hi - lo))


@pytest.mark.parametrize("low, high", [(-0.19, -0.09), (8.7498, 8.8292), (0.215, 0.389), (8.798, 8.79805),
                                       (1e-7, 3e-7), (100.0, 1500.0)])
def test_each_frame_gets_three_to_six_round_ticks_inside_its_axis(low, high):
    from transvis.viz.animation import N_TICKS, nice_ticks

    values, fmt = nice_ticks(low, high)
    assert 3 <= len(values) <= N_TICKS and all(low <= v <= high for v in values)
    labels = [format(v, fmt) for v in values]
    assert len(set(labels)) == len(labels)  # never two ticks that read the same
    steps = np.diff(values)
    np.testing.assert_allclose(steps, steps[0])


def test_race_badges_and_long_captions_wrap_instead_of_being_cut():
    scores, notes = _noisy_race()
    notes.badges = [{}, {"m/a": "■ stopped at step 1"}, {"m/a": "■ stopped at step 1"}]
    notes.overtakes = [[], [("m/c", "m/a"), ("m/c", "m/b"), ("m/b", "m/a")], []]
    fig = ranking_race(scores, race=notes, metric_label="LogME")
    labels = list(_race(fig, 1)[2].text)
    assert any(t.startswith("#") and "a <span" in t and "■ stopped at step 1" in t for t in labels)
    assert not any("stopped" in t for t in _race(fig, 0)[2].text)
    caption = _race(fig, 1)[3].text[0]
    assert "(+1 more)" in caption  # the "(+k more)" tail is wrapped onto the caption, never cut at "(+"
    assert all(len(re.sub("<[^>]+>", "", line)) <= 40 for line in caption.split("<br>"))
    with pytest.raises(ValueError, match="badges"):
        RaceNotes(**{**notes.__dict__, "badges": [{}]}).check(3)


def test_the_start_stays_drawn_behind_the_moving_points():
    positions, centres, labels = _trajectory(n_frames=3)
    plain = dynamics_figure(positions, labels, ["u", "v", "w"], _scores(), centres=centres)
    fig = dynamics_figure(positions, labels, ["u", "v", "w"], _scores(), centres=centres, show_start=True)
    extra = fig.data[len(plain.data):]
    assert [t.name for t in extra] == ["start (first frame)"] + ["centre paths"] * 3
    np.testing.assert_allclose(extra[0].x, fig.frames[0].data[0].x)  # the first frame's points, static
    np.testing.assert_allclose(extra[1].x, centres[:, 0, 0])  # class 0's centre over every frame
    # the animated traces keep their indices: every frame still updates the same traces
    assert [f.traces for f in fig.frames] == [f.traces for f in plain.frames]



def test_a_large_start_cloud_is_thinned_and_the_margins_do_not_grow_in_the_browser():
    """Above MAX_START_POINTS the grey start keeps every k-th first-frame point (fewer SVG nodes to draw), and the
    figure fixes its margins: plotly widening them for the legend or slider would draw the whole figure twice."""
    labels = np.repeat(np.arange(4), 1500)
    rng = np.random.default_rng(0)
    positions = rng.normal(size=(3, labels.size, 2))
    fig = dynamics_figure(positions, labels, list("abcd"), _scores(), show_start=True)
    first = fig.frames[0].data[0]
    start = next(t for t in fig.data if t.name == "start (first frame)")
    stride = -(-MAX_ANIMATED_POINTS // MAX_START_POINTS)
    assert len(start.x) == len(first.x[::stride]) <= MAX_START_POINTS < len(first.x)
    np.testing.assert_allclose(start.y, first.y[::stride])
    assert fig.layout.margin.autoexpand is False
    small = dynamics_figure(positions[:, :40], labels[:40], list("abcd"), _scores(), show_start=True)
    start = next(t for t in small.data if t.name == "start (first frame)")
    np.testing.assert_allclose(start.x, small.frames[0].data[0].x)  # few points: all of them

def test_the_right_margin_also_holds_each_models_badge():
    """PED writes "■ stopped at step k" after a model's label: the margin counts the model's name plus its
    longest badge, so the badge is not cut at the figure's edge (it was, before the margin knew of badges)."""
    models = ["offline/xception_kitchenware", "m/b"]
    badge = "■ stopped at step 4"
    notes = race_notes(pd.DataFrame([[1.0, 2.0], [2.0, 1.0]], columns=models))
    plain = race_margin(models, race=notes)
    assert plain == race_margin(models)
    notes.badges = [{}, {"m/b": "■ 4"}]  # a short name with a short badge: shorter than the long name alone
    assert race_margin(models, race=notes) == plain
    notes.badges = [{}, {"offline/xception_kitchenware": badge}]
    with_badge = race_margin(models, race=notes)
    assert with_badge - plain == int(0.62 * 12 * (len("xception_kitchenware") + 3 + len(badge) + 1)) - int(
        0.62 * 12 * (len("xception_kitchenware") + 3))


def test_a_long_scatter_title_breaks_at_its_dash_and_the_legend_sits_above_it():
    """12-member pool names ("efficientnet_lite0 · random init — PCA of the unperturbed features") ran into the
    race's title at 1280 px; the title now takes two lines and the legend starts above them."""
    positions, centres, labels = _trajectory(n_frames=3)
    title = "efficientnet_lite0 · random init — PCA of the unperturbed features"
    fig = dynamics_figure(positions, labels, ["u", "v", "w"], _scores(), centres=centres, scatter_title=title,
                          title="Spread & Attract")
    texts = [a.text for a in fig.layout.annotations]
    assert "efficientnet_lite0 · random init<br>PCA of the unperturbed features" in texts
    short = dynamics_figure(positions, labels, ["u", "v", "w"], _scores(), centres=centres, scatter_title="m — PCA")
    assert "m — PCA" in [a.text for a in short.layout.annotations]
    plot_px = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    assert fig.layout.legend.y == pytest.approx(1 + 62 / plot_px) and fig.layout.legend.yanchor == "bottom"
    nc = dynamics_figure(positions, labels, ["u", "v", "w"], _scores(), centres=centres,
                         scatter_title="efficientnet_lite0 · tap 1 — PCA of the unperturbed features · t = 0.00")
    assert "efficientnet_lite0 · tap 1<br>PCA of the unperturbed features<br>t = 0.00" in [
        a.text for a in nc.layout.annotations]
    assert fig.layout.margin.t > short.layout.margin.t  # the figure's title gets its own room above the legend


def test_static_scatter_fixes_its_margins_to_fit_the_legend_or_colour_bar():
    """Margins fixed (plotly widening them itself draws the figure twice): wide enough for the longest class
    name in the legend, or for the colour bar."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 10)
    short = static_scatter(rng.normal(size=(20, 2)), labels, ["a", "b"])
    long = static_scatter(rng.normal(size=(20, 2)), labels, ["a", "a much longer class name"])
    scale = static_scatter(rng.normal(size=(20, 2)), labels, ["a", "b"], color=rng.normal(size=20))
    assert short.layout.margin.autoexpand is False and long.layout.margin.autoexpand is False
    assert long.layout.margin.r >= 8 * len("a much longer class name") > short.layout.margin.r
    assert scale.layout.margin.r >= 100 and scale.data[0].marker.showscale


def test_static_scatter_of_a_subset_names_the_samples_by_their_own_index():
    positions, labels = np.arange(8.0).reshape(4, 2), np.array([0, 1, 0, 1])
    fig = static_scatter(positions, labels, ["a", "b"], sample_ids=[10, 11, 20, 21])
    first = fig.data[0]  # class a: rows 0 and 2
    assert [row[0] for row in first.customdata] == [10, 20] and list(first.text) == ["#10 · a", "#20 · a"]
