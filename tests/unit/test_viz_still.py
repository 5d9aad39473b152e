"""A still of an animated figure: the chosen frame's data, fixed axes, no second time control."""

import numpy as np
import pandas as pd
import pytest

from transvis.viz.animation import dynamics_figure
from transvis.viz.still import still_frame


def _figure():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    start = rng.normal(size=(60, 2)) + 4 * rng.normal(size=(3, 2))[labels]
    t = np.linspace(0, 1, 4)[:, None, None]
    positions = start[None] * (1 - t)
    scores = pd.DataFrame([[3.0, 2.0], [2.5, 2.6], [1.0, 2.0], [0.5, 2.0]], columns=["m/a", "m/b"])
    return dynamics_figure(positions, labels, ["x", "y", "z"], scores, frame_names=[f"t={v}" for v in range(4)]), \
        positions


def test_still_shows_the_chosen_frame_without_play_controls():
    fig, positions = _figure()
    for index in (0, 2, 3):
        still = still_frame(fig, index)
        samples = still.data[0]
        assert np.allclose(np.sort(np.asarray(samples.x)), np.sort(positions[index][:, 0]))
        assert not still.frames and not still.layout.sliders and not still.layout.updatemenus
        assert still.layout.meta["frame_index"] == index
        assert list(still.layout.xaxis.range) == list(fig.layout.xaxis.range)  # axes fixed over frames
    # the race's bars are the frame's scores (frame 3: b leads)
    bars = [t for t in still_frame(fig, 3).data if t.type == "bar"]
    assert bars and len(bars[0].x) == 2
    assert fig.frames and fig.layout.sliders  # the original is untouched
    with pytest.raises(IndexError):
        still_frame(fig, 4)
