"""One frame of an animated figure as a still: for screens where one outside control picks the frame.

Presentation mode has ONE time control (a Streamlit slider or the step buttons): the figure must show that
frame and carry no second play slider of its own. :func:`still_frame` takes any figure built with plotly
frames (``transvis.viz.animation.dynamics_figure``: scatter + race, whose axes are fixed over all frames) and
returns it showing frame ``index``, with the frames, play buttons and slider removed — same traces, same fixed
axes, so moving the control never rescales the view.
"""

from __future__ import annotations

import copy

import plotly.graph_objects as go


def still_frame(fig: go.Figure, index: int, bottom_margin: int = 100) -> go.Figure:
    """A copy of ``fig`` showing its frame ``index`` (0-based; negative counts from the end), without frames,
    play buttons or slider; ``bottom_margin`` [px] replaces the room the controls took."""
    frames = list(fig.frames or [])
    if not frames:
        raise ValueError("the figure has no frames: it is already a still.")
    if not -len(frames) <= index < len(frames):
        raise IndexError(f"frame {index} of a figure with {len(frames)} frames.")
    frame = frames[index]
    out = go.Figure(fig)
    targets = list(frame.traces) if frame.traces is not None else list(range(len(frame.data)))
    for target, trace in zip(targets, frame.data):
        update = copy.deepcopy(trace.to_plotly_json())
        update.pop("type", None)
        out.data[target].update(update)
    if frame.layout is not None:
        out.update_layout(frame.layout)
    out.frames = []
    out.layout.sliders = ()
    out.layout.updatemenus = ()
    out.update_layout(margin=dict(b=bottom_margin),
                      meta={"frame": frame.name, "frame_index": index % len(frames)})
    return out


RACE_TOP_PX = 60  # the title
RACE_BOTTOM_PX = 80  # the race's axis title (its lines, ``animation.RACE_BELOW_PX``) and a little air


def race_still(scores, ranks, frame_names, colors, metric_label: str, race, index: int, height: int,
               title: str | None = None) -> go.Figure:
    """The ranking race (:func:`transvis.viz.animation.ranking_race`'s) at frame ``index``, as a still laid out
    for ``height`` [px].

    ``ranking_race`` sizes itself (48 px a model) and reserves the room under the bars for its longest caption
    in data units for that height; setting a smaller height afterwards squeezes the caption out of the figure
    (12 demo models: the caption ran past a 720-px screen). Here the bars and the caption room are computed for
    the height given. scores, ranks : [F × M] DataFrames; race : the view's :class:`RaceNotes` (or None).
    """
    from transvis.viz._style import base_layout
    from transvis.viz.animation import _add_race, race_margin

    fig = go.Figure()
    _add_race(fig, scores, ranks, frame_names, colors, metric_label, 600, race, row=None, col=None,
              plot_height=float(height - RACE_TOP_PX - RACE_BOTTOM_PX))
    fig = base_layout(fig, title or f"ranking by {metric_label}", height=height)
    fig.update_layout(margin=dict(t=RACE_TOP_PX, b=RACE_BOTTOM_PX, r=race_margin(scores.columns, race=race)))
    return still_frame(fig, index, bottom_margin=RACE_BOTTOM_PX)
