"""Models and classes never share a colour: two palettes, defined once, used by every figure builder."""

import numpy as np
import pandas as pd
import pytest

from transvis.viz import CLASS_PALETTE, MODEL_PALETTE, NEUTRAL_COLORS, class_colors, color_difference, model_colors
from transvis.viz._style import MIN_MODEL_CLASS_DIFFERENCE, delta_e00
from transvis.viz.animation import dynamics_figure, ranking_race, static_scatter
from transvis.viz.methods import before_after_bars, curves, per_class_bars, small_multiples_bars


@pytest.mark.parametrize("lab1, lab2, expected", [  # Sharma, Wu & Dalal (2005), Table 1
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
])
def test_colour_difference_is_ciede2000(lab1, lab2, expected):
    assert delta_e00(lab1, lab2) == pytest.approx(expected, abs=1e-4)


def test_model_and_class_palettes_never_share_a_colour():
    # the old pair (plotly D3's model orange vs Tableau's class orange) was the same colour to the eye
    assert color_difference("#FF7F0E", "#F58518") < 5
    worst = min((color_difference(m, c), m, c) for m in MODEL_PALETTE for c in CLASS_PALETTE)
    assert worst[0] >= MIN_MODEL_CLASS_DIFFERENCE >= 25, worst
    assert not set(MODEL_PALETTE) & set(CLASS_PALETTE)
    # each palette tells its own members apart
    for palette in (MODEL_PALETTE, CLASS_PALETTE):
        assert len(palette) >= 12 and len(set(palette)) == len(palette)
        closest = min(color_difference(a, b) for i, a in enumerate(palette) for b in palette[i + 1:])
        assert closest > 14
    # greys for series that are neither a model nor a class stay clear of the class colours
    assert min(color_difference(g, c) for g in NEUTRAL_COLORS for c in CLASS_PALETTE) > 15


def test_every_figure_builder_colours_models_and_classes_from_their_own_palette():
    models = [f"m/{k}" for k in range(7)]
    classes = [f"class {c}" for c in range(10)]
    labels = np.repeat(np.arange(10), 6)
    rng = np.random.default_rng(0)
    positions = rng.normal(size=(2, labels.size, 2))
    scores = pd.DataFrame(rng.normal(size=(2, 7)), columns=models)
    fig = dynamics_figure(positions, labels, classes, scores, centres=rng.normal(size=(2, 10, 2)))
    points = set(fig.data[0].marker.color) | set(fig.data[1].marker.color)
    bars = set(next(t for t in fig.data if t.type == "bar").marker.color)
    assert points <= set(CLASS_PALETTE) and bars <= set(MODEL_PALETTE)
    assert bars == set(model_colors(models).values()) and points == set(class_colors(10))
    assert set(ranking_race(scores).data[0].marker.color) <= set(MODEL_PALETTE)
    assert {t.marker.color for t in static_scatter(positions[0], labels, classes).data} <= set(CLASS_PALETTE)
    colours = set()
    for figure in (before_after_bars(scores.iloc[0], scores.iloc[1], "q"),
                   small_multiples_bars(pd.DataFrame({"q": scores.iloc[0]})),
                   curves([0, 1], {m: scores[m] for m in models}, "x", "y"),
                   per_class_bars({m: np.ones(10) for m in models[:2]}, classes, "q")):
        for trace in figure.data:
            colour = trace.marker.color if trace.type == "bar" else trace.line.color
            colours |= set([colour] if isinstance(colour, str) else colour)
    assert colours <= set(MODEL_PALETTE)


def test_base_layout_gives_the_same_figure_whether_or_not_its_template_is_plotlys_default(monkeypatch):
    """The app makes the template plotly's default (validated once) and base_layout then skips setting it."""
    import json

    import plotly.graph_objects as go
    import plotly.io as pio

    from transvis.viz._style import TEMPLATE, base_layout

    def figure():
        return json.loads(base_layout(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), "t", height=300).to_json())

    monkeypatch.setattr(pio.templates, "default", "plotly")
    as_library = figure()
    monkeypatch.setattr(pio.templates, "default", TEMPLATE)
    assert figure() == as_library and as_library["layout"]["template"]["layout"]["plot_bgcolor"] == "white"


def test_pair_colors_keeps_two_compared_models_apart():
    from transvis.viz import pair_colors
    from transvis.viz._style import MIN_PAIR_DIFFERENCE, PAIR_CONTRAST_COLOR

    # B's contrast colour is no model's colour and stays clear of every model and class colour
    assert PAIR_CONTRAST_COLOR not in MODEL_PALETTE
    assert min(color_difference(PAIR_CONTRAST_COLOR, m) for m in MODEL_PALETTE) >= 20
    assert min(color_difference(PAIR_CONTRAST_COLOR, c) for c in CLASS_PALETTE) >= MIN_MODEL_CLASS_DIFFERENCE

    models = [f"m/{k}" for k in range(len(MODEL_PALETTE))]
    pool = model_colors(models)
    # brick red (1) and crimson (11) read as one colour when they are the only two series
    assert color_difference(pool["m/1"], pool["m/11"]) < MIN_PAIR_DIFFERENCE
    assert pair_colors(pool, "m/11", "m/1")["m/1"] == PAIR_CONTRAST_COLOR
    for a in models:
        for b in models:
            if a == b:
                continue
            pair = pair_colors(pool, a, b)
            assert pair[a] == pool[a]  # A keeps its colour everywhere
            assert color_difference(pair[a], pair[b]) >= MIN_PAIR_DIFFERENCE >= 30, (a, b)
            if color_difference(pool[a], pool[b]) >= MIN_PAIR_DIFFERENCE:
                assert pair == pool  # already distinct: nothing changes
            elif color_difference(pool[a], PAIR_CONTRAST_COLOR) >= MIN_PAIR_DIFFERENCE:
                assert pair[b] == PAIR_CONTRAST_COLOR  # no other model of the pool wears it
            assert {m: c for m, c in pair.items() if m != b} == {m: c for m, c in pool.items() if m != b}
    assert pair_colors(pool, "m/1", None) == pool
