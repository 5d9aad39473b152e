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
