"""transvis.viz.still.race_still: the ranking race as a still laid out for a screen's height, its caption inside."""

import numpy as np
import pandas as pd
import pytest

from transvis.viz.animation import ranking_race
from transvis.viz.still import race_still, still_frame

MODELS = [f"model-{k:02d}-with-a-long-name" for k in range(12)]


def _scores():
    """Three frames of 12 models; at the last one the order reverses (many overtakes: a multi-line caption)."""
    base = np.linspace(1.0, 2.0, len(MODELS))
    return pd.DataFrame([base, base + 0.01, base[::-1]], columns=MODELS)


def _caption_room(fig, height):
    """(px under the bars for the caption, px its lines need: 12-px text, 15 px a line)."""
    layout = fig.layout
    plot_px = height - layout.margin.t - layout.margin.b
    low_end, high_end = layout.yaxis.range  # reversed axis: [bottom, top] in slots
    outlines = next(t for t in fig.data if t.name == "rank changes")
    caption_y, caption = outlines.y[0], outlines.text[0]
    room = (low_end - caption_y) / (low_end - high_end) * plot_px
    return room, 15 * (caption.count("<br>") + 1)


@pytest.mark.parametrize("height", [590, 920])
def test_the_caption_fits_under_the_bars_at_the_screens_height(height):
    fig = race_still(_scores(), None, ["a", "b", "c"], None, "LogME", None, 2, height=height)
    room, needed = _caption_room(fig, height)
    assert needed >= 45 and room >= needed  # three lines or more, all inside the plot
    assert fig.layout.height == height and not fig.frames and not fig.layout.sliders
    assert fig.layout.meta["frame_index"] == 2 and fig.layout.title.text == "ranking by LogME"
    bars = next(t for t in fig.data if t.type == "bar")
    assert len(bars.y) == len(MODELS)


def test_resizing_the_self_sized_race_afterwards_squeezes_the_caption_out():
    # what presentation mode did before: ranking_race (sized 48 px a model) shrunk to the screen's 590 px
    fig = still_frame(ranking_race(_scores(), colors=None, metric_label="LogME"), 2)
    fig.update_layout(height=590)
    room, needed = _caption_room(fig, 590)
    assert room < needed
