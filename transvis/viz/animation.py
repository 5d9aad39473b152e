"""Animated scatter of a trajectory beside the live model ranking, in one plotly figure.

A trajectory is shown from plain arrays so that these builders do not depend on the dynamics engine's
classes:

* ``positions`` [F, N, 2] — 2-D sample positions in a projection fixed for the whole trajectory;
* ``centres`` [F, C, 2] — class centres (optional);
* ``scores`` / ``ranks`` — DataFrames [F frames × M models] (rank 1 = best).

Rules the app relies on: at most ``max_points`` samples are animated (a deterministic stratified sample,
see :func:`stratified_sample`); frames hold only ordinary ``scatter``/``bar`` traces (WebGL traces
inside animation frames break plotly's animation); the first frame is also the figure's initial data, so
a static export shows frame 0.

What keeps a frame step fast (``bench/app.py`` times it): frames carry only what changes — sample and centre
positions, per-frame colours when the colouring changes per frame, the ranking bars — while constant
attributes (``customdata``, hover text, marker style, colour bar) live once on the figure's traces (plotly
merges a frame into the traces); continuous colours use one fixed range for all frames; and the slider and
Play step with ``redraw: False``: every trace is a scatter or a bar, which plotly updates in place instead
of redrawing the whole figure (same pixels, checked by ``bench/app.py --check-frames``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ._style import DOWN_COLOR, UP_COLOR, base_layout, class_colors, model_colors, short_model_name

MAX_ANIMATED_POINTS = 2000


def stratified_sample(labels, max_points: int = MAX_ANIMATED_POINTS, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``max_points`` samples [≤ N], every class kept in proportion.

    Deterministic for a given (labels, max_points, seed). Each class keeps ``max(1, round(share))``
    samples (the largest remainders get the leftover slots), so small classes never vanish; all indices
    are returned when N ≤ max_points.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D [N]; got shape {labels.shape}.")
    if max_points < 1:
        raise ValueError("max_points must be at least 1.")
    n = labels.size
    if n <= max_points:
        return np.arange(n)
    classes, counts = np.unique(labels, return_counts=True)
    if classes.size > max_points:
        raise ValueError(f"{classes.size} classes cannot each keep a sample within max_points={max_points}.")
    exact = counts * (max_points / n)
    quota = np.maximum(1, np.floor(exact).astype(int))
    quota = np.minimum(quota, counts)
    leftover = max_points - quota.sum()
    if leftover > 0:
        order = np.argsort(-(exact - np.floor(exact)), kind="stable")
        for c in order:
            if leftover == 0:
                break
            if quota[c] < counts[c]:
                quota[c] += 1
                leftover -= 1
    rng = np.random.default_rng(seed)
    keep = [rng.choice(np.flatnonzero(labels == cls), size=q, replace=False) for cls, q in zip(classes, quota)]
    return np.sort(np.concatenate(keep))


def overtakes(previous_ranks: dict[str, float], ranks: dict[str, float]) -> list[tuple[str, str]]:
    """Pairs (a, b): model a was ranked below b in the previous frame and is above it now."""
    models = [m for m in ranks if m in previous_ranks]
    return [
        (a, b)
        for a in models for b in models
        if a != b and previous_ranks[a] > previous_ranks[b] and ranks[a] < ranks[b]
    ]


def _as_frames(positions, n_expected: int | None = None) -> np.ndarray:
    arr = np.asarray(positions, dtype=float)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[-1] != 2:
        raise ValueError(f"positions must be [F, N, 2] (or [N, 2] for one frame); got shape {arr.shape}.")
    if n_expected is not None and arr.shape[1] != n_expected:
        raise ValueError(f"positions has {arr.shape[1]} samples but labels has {n_expected}.")
    return arr


def _frame_names(frame_names: Sequence[str] | None, n_frames: int) -> list[str]:
    names = [str(f) for f in frame_names] if frame_names is not None else [f"frame {i}" for i in range(n_frames)]
    if len(names) != n_frames or len(set(names)) != n_frames:
        raise ValueError(f"frame_names must be {n_frames} distinct labels, one per frame.")
    return names


def _point_colors(color, labels, class_names, n_frames):
    """Per-frame marker dicts: categorical (label array [N] or [F, N]) or continuous (float [N]/[F, N]).

    Returns (markers [F], categorical, varies): ``varies`` is False when every frame has the same colours.
    Continuous colours get one ``cmin``/``cmax`` over all frames, so a colour means the same value in every
    frame and the colour bar (drawn once) stays true."""
    palette = class_colors(len(class_names))
    if color is None:
        color = labels
    color = np.asarray(color)
    varies = color.ndim == 2 and bool((color != color[:1]).any())
    per_frame = color if color.ndim == 2 else np.broadcast_to(color, (n_frames, color.shape[0]))
    categorical = np.issubdtype(color.dtype, np.integer)
    markers = []
    if categorical:
        rows = per_frame if varies else per_frame[:1]
        markers = [dict(color=[palette[int(c) % len(palette)] for c in row]) for row in rows]
    else:
        values = per_frame.astype(float)
        finite = values[np.isfinite(values)]
        crange = dict(cmin=float(finite.min()), cmax=float(finite.max())) if finite.size else {}
        markers = [dict(color=row, **crange) for row in (values if varies else values[:1])]
    if not varies:
        markers = markers * n_frames
    return markers, categorical, varies


def _play_controls(frame_names: list[str], duration_ms: int, prefix: str,
                   plot_height: float = 400.0) -> tuple[list, list]:
    """Play/pause buttons and a frame slider below the x-axis title (``plot_height`` = plot area in px)."""
    below = -62.0 / max(plot_height, 100.0)  # paper units: clear of tick labels and the axis title
    # redraw False: scatter and bar traces update in place (a full redraw per step costs 2-3x more)
    play_args = {"frame": {"duration": duration_ms, "redraw": False}, "fromcurrent": True,
                 "transition": {"duration": int(duration_ms * 0.6), "easing": "cubic-in-out"}, "mode": "immediate"}
    pause_args = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}
    menus = [dict(
        type="buttons", direction="left", showactive=False, x=0.0, y=below, xanchor="left", yanchor="top",
        pad=dict(r=8, t=8),
        buttons=[
            dict(label="▶ Play", method="animate", args=[None, play_args]),
            dict(label="❚❚ Pause", method="animate", args=[[None], pause_args]),
        ],
    )]
    sliders = [dict(
        active=0, x=0.2, y=below + 0.02, len=0.8, xanchor="left", yanchor="top", pad=dict(t=30, b=10),
        currentvalue=dict(prefix=prefix, visible=True, xanchor="left", font=dict(size=13)),
        transition=dict(duration=0),
        steps=[dict(label=name, method="animate",
                    args=[[name], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate",
                                   "transition": {"duration": 0}}])
               for name in frame_names],
    )]
    return menus, sliders


def _sample_customdata(sample_ids) -> list[list[int]]:
    """Each point's ``customdata`` row ``[sample index]`` as plain lists: a numpy array would travel as a
    typed array, whose rows reach Streamlit's selection event as ``{"0": i}`` objects instead of ``[i]``."""
    return [[int(i)] for i in np.asarray(sample_ids).reshape(-1)]


def _marker_style(marker, categorical, color_label, showscale=True, colorbar_x=1.02) -> dict:
    style = dict(size=6, opacity=0.8, line=dict(width=0))
    if categorical:
        style.update(marker)
    else:
        style.update(marker, colorscale="Viridis", showscale=showscale,
                     colorbar=dict(title=color_label, thickness=12, x=colorbar_x, len=0.8))
    return style


def _scatter_traces(pos, cen, marker, hover, sample_ids, class_names, categorical, color_label, showscale,
                    colorbar_x=1.02):
    palette = class_colors(len(class_names))
    style = _marker_style(marker, categorical, color_label, showscale, colorbar_x)
    samples = go.Scatter(
        x=pos[:, 0], y=pos[:, 1], mode="markers", marker=style, name="samples", showlegend=False,
        customdata=_sample_customdata(sample_ids), text=hover,
        hovertemplate="%{text}<extra></extra>",
    )
    traces = [samples]
    if cen is not None:
        traces.append(go.Scatter(
            x=cen[:, 0], y=cen[:, 1], mode="markers", name="class centres", showlegend=False,
            marker=dict(symbol="diamond", size=15, color=palette[: len(cen)], line=dict(color="black", width=1.5)),
            text=list(class_names), hovertemplate="centre of <b>%{text}</b><extra></extra>",
        ))
    return traces


def _scatter_frame_traces(pos, cen, style):
    """A frame's samples (and centres) traces: positions and the samples' marker; sample ids, hover text and
    the centres' style stay on the figure's traces (plotly merges each frame into them)."""
    samples = go.Scatter(x=pos[:, 0], y=pos[:, 1], marker=style)
    return [samples] if cen is None else [samples, go.Scatter(x=cen[:, 0], y=cen[:, 1])]


def bar_slots(scores_row: pd.Series, ranks_row: pd.Series) -> pd.Series:
    """Distinct bar positions 1..M: by rank, ties by score then name, so tied models never overlap."""
    order = sorted(
        scores_row.index,
        key=lambda m: (np.inf if np.isnan(ranks_row[m]) else ranks_row[m],
                       -scores_row[m] if np.isfinite(scores_row[m]) else np.inf, str(m)),
    )
    return pd.Series({m: float(i + 1) for i, m in enumerate(order)})


def _race_frame(scores_row: pd.Series, ranks_row: pd.Series, previous: pd.Series | None, colors, base, x_note):
    """One frame of the ranking: a bar per model at its slot (length = score − base), labelled just past
    its end with the model name and its rank change (▲k green / ▼k red), and a "rank changes" scatter that
    outlines the bars that moved and writes the frame's overtakes under the bars.

    The outlines are lines of a scatter, not the bars' own ``marker.line``: frames step without a full
    redraw, which moves bars and rewrites their text but does not restyle them."""
    models = list(scores_row.index)
    score = scores_row.astype(float).to_numpy()
    ranks_now = ranks_row.astype(float)
    slots = bar_slots(scores_row.astype(float), ranks_now)
    y = slots[models].to_numpy()
    moved, labels = [], []
    for m in models:
        unknown = previous is None or np.isnan(previous[m]) or np.isnan(ranks_now[m])
        delta = 0.0 if unknown else previous[m] - ranks_now[m]
        moved.append(delta != 0)
        mark = (f" <span style='color:{UP_COLOR}'><b>▲{int(delta)}</b></span>" if delta > 0 else
                f" <span style='color:{DOWN_COLOR}'><b>▼{int(-delta)}</b></span>" if delta < 0 else "")
        labels.append(short_model_name(m) + mark)
    length = np.where(np.isfinite(score), score - base, 0.0)
    bar = go.Bar(
        x=length, base=base, y=y, orientation="h",
        marker=dict(color=[colors[m] for m in models], line=dict(width=0)),
        text=labels, textposition="outside", textfont=dict(color="#222", size=12), cliponaxis=False,
        constraintext="none",
        customdata=np.stack([[short_model_name(m) for m in models],
                             [f"{r:g}" if np.isfinite(r) else "–" for r in ranks_now[models]], score], axis=1),
        hovertemplate="<b>%{customdata[0]}</b><br>rank %{customdata[1]}<br>score %{customdata[2]:.4g}<extra></extra>",
        showlegend=False, name="ranking", width=0.8,
    )
    caption = _overtake_text(overtakes(previous.to_dict(), ranks_now.to_dict())) if previous is not None else ""
    # the caption is the first point; each moved bar adds a closed rectangle, None-separated
    xs, ys = [x_note], [len(models) + 0.75]
    for mv, slot, end in zip(moved, y, base + length):
        if mv:
            xs += [None, base, end, end, base, base]
            ys += [None, slot - 0.4, slot - 0.4, slot + 0.4, slot + 0.4, slot - 0.4]
    changes = go.Scatter(
        x=xs, y=ys, mode="lines+text", text=[caption or " "] + [" "] * (len(xs) - 1), textposition="bottom right",
        textfont=dict(color=UP_COLOR, size=12), line=dict(color="#111", width=3), showlegend=False,
        hoverinfo="skip", name="rank changes",
    )
    return bar, changes


def _overtake_text(pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    shown = [f"{short_model_name(a)} overtakes {short_model_name(b)}" for a, b in pairs[:3]]
    more = f" (+{len(pairs) - 3} more)" if len(pairs) > 3 else ""
    return "<br>".join(shown) + more


def ranking_race(
    scores: pd.DataFrame,
    ranks: pd.DataFrame | None = None,
    frame_names: Sequence[str] | None = None,
    colors: dict[str, str] | None = None,
    metric_label: str = "score",
    title: str | None = None,
    duration_ms: int = 600,
) -> go.Figure:
    """Animated bar chart of the model ranking, re-sorted at every frame.

    scores : DataFrame [F × M] (frames × models); ranks : same shape (1 = best), computed from the scores
    when omitted. Bars sit at their rank (ties side by side); a model that moved since the previous frame
    gets a dark outline and ``▲k`` (green) or ``▼k`` (red), and the frame's overtakes are written under
    the bars.
    """
    fig = go.Figure()
    height = max(360, 48 * scores.shape[1] + 240)
    _add_race(fig, scores, ranks, frame_names, colors, metric_label, duration_ms, row=None, col=None,
              plot_height=height - 60 - 160)
    fig = base_layout(fig, title or f"Model ranking by {metric_label}", height=height)
    fig.update_layout(margin=dict(b=160, r=race_margin(scores.columns)))
    return fig


def _race_frames(scores, ranks, colors):
    """Per-frame (bar, changes) traces and the fixed x range [base, top] shared by all frames."""
    scores = scores.astype(float)
    ranks = scores.rank(axis=1, ascending=False, method="min") if ranks is None else ranks.astype(float)
    if ranks.shape != scores.shape:
        raise ValueError(f"ranks {ranks.shape} and scores {scores.shape} must have the same shape [F × M].")
    colors = colors or model_colors(scores.columns)
    values = scores.to_numpy()
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = hi - lo or max(abs(hi), 1.0)
    base = lo - 0.35 * span  # even the lowest score keeps a visible bar
    top = hi + 0.15 * span  # a gap before the names; the figure's right margin holds the rest (race_margin)
    frames = [
        _race_frame(scores.iloc[f], ranks.iloc[f], ranks.iloc[f - 1] if f else None, colors, base,
                    base + 0.02 * (top - base))
        for f in range(len(scores))
    ]
    return frames, (base, top)


def race_margin(models: Sequence[str], font_px: int = 12) -> int:
    """Right margin [px] that fits the longest model name plus a ``▲k`` mark written past the longest bar
    (the race is the rightmost panel and its text is not clipped to the axes)."""
    longest = max((len(short_model_name(m)) for m in models), default=8)
    return int(0.62 * font_px * longest + 40)


def _add_race(fig, scores, ranks, frame_names, colors, metric_label, duration_ms, row, col, plot_height=300.0):
    names = _frame_names(frame_names, len(scores))
    frames, x_range = _race_frames(scores, ranks, colors)
    n_models = scores.shape[1]
    kw = {} if row is None else dict(row=row, col=col)
    first = len(fig.data)
    for trace in frames[0]:
        fig.add_trace(trace, **kw)
    fig.update_yaxes(range=[n_models + 1.6, 0.4], tickvals=list(range(1, n_models + 1)),
                     ticktext=[f"#{r}" for r in range(1, n_models + 1)], title=None, showgrid=False, **kw)
    fig.update_xaxes(range=list(x_range), title=metric_label, **kw)
    indices = [first, first + 1]
    if row is None:
        fig.frames = [go.Frame(name=n, data=list(d), traces=indices) for n, d in zip(names, frames)]
        menus, sliders = _play_controls(names, duration_ms, "frame: ", plot_height)
        fig.update_layout(updatemenus=menus, sliders=sliders)
    return frames, indices


def animated_scatter(
    positions,
    labels,
    class_names: Sequence[str],
    *,
    centres=None,
    frame_names: Sequence[str] | None = None,
    color=None,
    color_label: str = "",
    hover: Sequence[str] | None = None,
    max_points: int = MAX_ANIMATED_POINTS,
    seed: int = 0,
    title: str | None = None,
    duration_ms: int = 600,
    axis_titles: tuple[str, str] = ("component 1", "component 2"),
) -> go.Figure:
    """Animated scatter of samples (and class centres) over a trajectory, with play/pause and a slider.

    positions : [F, N, 2]; labels : int [N] in 0..C-1; centres : [F, C, 2] or None.
    color : None (true label), int [N] or [F, N] (e.g. predicted label, a class index per sample), or
        float [N] / [F, N] (e.g. per-sample score contribution, drawn with a continuous colour scale).
    hover : [N] strings; defaults to "#index · class name".
    Each point's ``customdata`` is its index into the N samples, so a lasso selection maps back to rows.
    """
    fig = go.Figure()
    _add_scatter(fig, positions, labels, class_names, centres, frame_names, color, color_label, hover,
                 max_points, seed, row=None, col=None, duration_ms=duration_ms, plot_height=560 - 60 - 160)
    fig.update_xaxes(title=axis_titles[0])
    fig.update_yaxes(title=axis_titles[1])
    fig = base_layout(fig, title, height=560)
    fig.update_layout(margin=dict(b=160))
    return fig


def _scatter_frames(positions, labels, class_names, centres, color, hover, max_points, seed):
    labels = np.asarray(labels)
    pos = _as_frames(positions, labels.size)
    n_frames = pos.shape[0]
    cen = None
    if centres is not None:
        cen = _as_frames(centres)
        if cen.shape[0] != n_frames:
            raise ValueError(f"centres has {cen.shape[0]} frames but positions has {n_frames}.")
    keep = stratified_sample(labels, max_points, seed)
    if color is not None:
        color = np.asarray(color)
        color = color[..., keep]
    names = list(class_names)
    if hover is None:
        hover = [f"#{i} · {names[int(labels[i])]}" for i in keep]
    else:
        hover = [str(hover[i]) for i in keep]
    markers, categorical, varies = _point_colors(color, labels[keep], names, n_frames)
    return pos[:, keep], cen, keep, markers, categorical, varies, hover


def _add_scatter(fig, positions, labels, class_names, centres, frame_names, color, color_label, hover,
                 max_points, seed, row, col, duration_ms=600, colorbar_x=1.02, plot_height=340.0):
    pos, cen, keep, markers, categorical, varies, hover = _scatter_frames(
        positions, labels, class_names, centres, color, hover, max_points, seed)
    names = _frame_names(frame_names, pos.shape[0])
    kw = {} if row is None else dict(row=row, col=col)
    first = len(fig.data)
    for trace in _scatter_traces(pos[0], None if cen is None else cen[0], markers[0], hover, keep, class_names,
                                 categorical, color_label, showscale=True, colorbar_x=colorbar_x):
        fig.add_trace(trace, **kw)
    per_frame = [_scatter_frame_traces(pos[f], None if cen is None else cen[f],
                                       _marker_style(markers[f], categorical, color_label, True, colorbar_x))
                 for f in range(pos.shape[0])]
    palette = class_colors(len(class_names))
    if categorical:  # legend entries only: the samples trace colours points individually
        for c, name in enumerate(class_names):
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=str(name),
                                     marker=dict(size=9, color=palette[c]), legendgroup=str(name)), **kw)
    # One fixed axis range over all frames, so the view never jumps.
    stacked = pos.reshape(-1, 2) if cen is None else np.concatenate([pos.reshape(-1, 2), cen.reshape(-1, 2)])
    stacked = stacked[np.isfinite(stacked).all(axis=1)]
    if stacked.size:
        lo, hi = stacked.min(0), stacked.max(0)
        pad = 0.05 * np.maximum(hi - lo, 1e-9)
        fig.update_xaxes(range=[lo[0] - pad[0], hi[0] + pad[0]], **kw)
        fig.update_yaxes(range=[lo[1] - pad[1], hi[1] + pad[1]], **kw)
    indices = list(range(first, first + len(per_frame[0])))
    if row is None:
        fig.frames = [go.Frame(name=n, data=d, traces=indices) for n, d in zip(names, per_frame)]
        menus, sliders = _play_controls(names, duration_ms, "", plot_height)
        fig.update_layout(updatemenus=menus, sliders=sliders)
    return per_frame, indices, names


def dynamics_figure(
    positions,
    labels,
    class_names: Sequence[str],
    scores: pd.DataFrame,
    ranks: pd.DataFrame | None = None,
    *,
    centres=None,
    frame_names: Sequence[str] | None = None,
    color=None,
    color_label: str = "",
    hover: Sequence[str] | None = None,
    colors: dict[str, str] | None = None,
    metric_label: str = "score",
    scatter_title: str = "feature space",
    title: str | None = None,
    slider_prefix: str = "",
    max_points: int = MAX_ANIMATED_POINTS,
    seed: int = 0,
    duration_ms: int = 600,
) -> go.Figure:
    """The page's main figure: the animated scatter (left) and the live ranking (right), one slider.

    Arguments as :func:`animated_scatter` and :func:`ranking_race`; ``scores`` must have one row per frame
    of ``positions``. Both panels move together because they share the figure's frames.
    """
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], horizontal_spacing=0.09,
                        subplot_titles=(scatter_title, f"ranking by {metric_label}"))
    per_frame, scatter_idx, names = _add_scatter(
        fig, positions, labels, class_names, centres, frame_names, color, color_label, hover,
        max_points, seed, row=1, col=1, colorbar_x=0.53)
    if len(scores) != len(names):
        raise ValueError(f"scores has {len(scores)} rows but the trajectory has {len(names)} frames.")
    race, race_idx = _add_race(fig, scores, ranks, names, colors, metric_label, duration_ms, row=1, col=2)
    fig.frames = [
        go.Frame(name=n, data=[*per_frame[f], *race[f]], traces=[*scatter_idx, *race_idx])
        for f, n in enumerate(names)
    ]
    top = 125 if title else 95
    menus, sliders = _play_controls(names, duration_ms, slider_prefix, plot_height=680 - top - 160)
    fig = base_layout(fig, title, height=680)
    fig.update_layout(updatemenus=menus, sliders=sliders, margin=dict(b=160, t=top, r=race_margin(scores.columns)),
                      legend=dict(orientation="h", x=0, y=1.07, yanchor="bottom", xanchor="left"))
    if title:
        fig.update_layout(title=dict(y=0.985, yref="container", yanchor="top"))
    return fig


def paired_dynamics_figure(
    views: Sequence[tuple[str, Any]],
    labels,
    class_names: Sequence[str],
    *,
    colors: dict[str, str] | None = None,
    metric_label: str = "score",
    title: str | None = None,
    max_points: int = MAX_ANIMATED_POINTS,
    seed: int = 0,
    duration_ms: int = 600,
) -> go.Figure:
    """Two models side by side on one slider: ``views`` = [(model, TrajectoryView), (model, TrajectoryView)]
    of the same trajectory; their scatters (same sampled points) and the shared ranking move together."""
    if len(views) != 2:
        raise ValueError("paired_dynamics_figure compares exactly two models.")
    (name_a, a), (name_b, b) = views
    if a.frame_names != b.frame_names:
        raise ValueError("both views must come from the same trajectory (same frames).")
    fig = make_subplots(rows=1, cols=3, column_widths=[0.37, 0.37, 0.26], horizontal_spacing=0.06,
                        subplot_titles=(short_model_name(name_a), short_model_name(name_b),
                                        f"ranking by {metric_label}"))
    frame_a, idx_a, names = _add_scatter(fig, a.positions, labels, class_names, a.centres, a.frame_names, None, "",
                                         None, max_points, seed, row=1, col=1)
    # the second panel's legend entries would duplicate the first's
    frame_b, idx_b, _ = _add_scatter(fig, b.positions, labels, class_names, b.centres, b.frame_names, None, "",
                                     None, max_points, seed, row=1, col=2)
    for trace in fig.data[idx_b[-1] + 1:]:
        trace.showlegend = False
    race, race_idx = _add_race(fig, a.scores, a.ranks, names, colors, metric_label, duration_ms, row=1, col=3)
    fig.frames = [
        go.Frame(name=n, data=[*frame_a[f], *frame_b[f], *race[f]], traces=[*idx_a, *idx_b, *race_idx])
        for f, n in enumerate(names)
    ]
    top = 125 if title else 95
    menus, sliders = _play_controls(names, duration_ms, "", plot_height=600 - top - 160)
    fig = base_layout(fig, title, height=600)
    fig.update_layout(updatemenus=menus, sliders=sliders, margin=dict(b=160, t=top, r=race_margin(a.scores.columns)),
                      legend=dict(orientation="h", x=0, y=1.07, yanchor="bottom", xanchor="left"))
    if title:
        fig.update_layout(title=dict(y=0.985, yref="container", yanchor="top"))
    return fig


def static_scatter(
    positions,
    labels,
    class_names: Sequence[str],
    *,
    color=None,
    color_label: str = "",
    hover: Sequence[str] | None = None,
    title: str | None = None,
    axis_titles: tuple[str, str] = ("component 1", "component 2"),
    webgl_above: int = 3000,
) -> go.Figure:
    """The full-set overview [N, 2] (no sampling, no frames): WebGL above ``webgl_above`` points.

    One trace per class when coloured by label (legend toggles classes), else one trace with a colour
    scale; ``customdata`` holds each sample's row index for lasso/box selection.
    """
    pos = _as_frames(positions, np.asarray(labels).size)[0]
    labels = np.asarray(labels)
    names = list(class_names)
    hover = [f"#{i} · {names[int(labels[i])]}" for i in range(labels.size)] if hover is None else list(hover)
    trace_cls = go.Scattergl if labels.size > webgl_above else go.Scatter
    fig = go.Figure()
    palette = class_colors(len(names))
    if color is None:
        for c, name in enumerate(names):
            idx = np.flatnonzero(labels == c)
            if idx.size == 0:
                continue
            fig.add_trace(trace_cls(
                x=pos[idx, 0], y=pos[idx, 1], mode="markers", name=str(name),
                marker=dict(size=6, color=palette[c], opacity=0.8), customdata=_sample_customdata(idx),
                text=[hover[i] for i in idx], hovertemplate="%{text}<extra></extra>",
            ))
    else:
        color = np.asarray(color)
        categorical = np.issubdtype(color.dtype, np.integer)
        marker = (dict(size=6, color=[palette[int(c) % len(palette)] for c in color]) if categorical
                  else dict(size=6, color=color.astype(float), colorscale="Viridis", showscale=True,
                            colorbar=dict(title=color_label, thickness=12)))
        fig.add_trace(trace_cls(
            x=pos[:, 0], y=pos[:, 1], mode="markers", marker=marker, customdata=_sample_customdata(np.arange(labels.size)),
            text=hover, hovertemplate="%{text}<extra></extra>", showlegend=False,
        ))
    fig.update_xaxes(title=axis_titles[0])
    fig.update_yaxes(title=axis_titles[1])
    fig.update_layout(dragmode="lasso")
    return base_layout(fig, title, height=520)


@dataclass
class TrajectoryView:
    """One model's view of a trajectory, as plain arrays for :func:`dynamics_figure`.

    positions [F, N, 2], centres [F, C, 2] or None, scores / ranks DataFrames [F × M], frame_names [F],
    predicted int [F, N] or None, contribution float [F, N] or [N] or None, projection (its name).
    """

    positions: np.ndarray
    centres: np.ndarray | None
    scores: pd.DataFrame
    ranks: pd.DataFrame
    frame_names: list[str]
    predicted: np.ndarray | None = None
    contribution: np.ndarray | None = None
    projection: str = "projection"


def _first_attr(obj: Any, names: Sequence[str]):
    for name in names:
        value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _per_model(frame: Any, names: Sequence[str], model: str):
    value = _first_attr(frame, names)
    if isinstance(value, Mapping):  # {model: value}, possibly a lazy mapping
        return value[model] if model in value else None
    return value


def trajectory_view(traj: Any, model: str) -> TrajectoryView:
    """Read a :class:`transvis.dynamics.Trajectory` into a :class:`TrajectoryView` for ``model``.

    Uses each frame's ``positions`` / ``centres`` ({model: [N, 2] / [C, 2]}), ``scores`` and ``ranks``
    ({model: value}), ``label``, and the optional lazy ``predicted`` / ``contribution`` ({model: [N]}, read
    for this model only); the trajectory's ``projection_name`` names the axes.
    """
    frames = list(getattr(traj, "frames", []) or [])
    if not frames:
        raise ValueError("the trajectory has no frames.")
    positions, centres, predicted, contribution, names = [], [], [], [], []
    for i, frame in enumerate(frames):
        pos = _per_model(frame, ("positions",), model)
        if pos is None:
            raise ValueError(f"frame {i} has no 2-D positions for {model!r}.")
        positions.append(np.asarray(pos, dtype=float))
        cen = _per_model(frame, ("centres", "centers"), model)
        centres.append(None if cen is None else np.asarray(cen, dtype=float))
        pred = _per_model(frame, ("predicted",), model)
        predicted.append(None if pred is None else np.asarray(pred))
        contrib = _per_model(frame, ("contribution",), model)
        contribution.append(None if contrib is None else np.asarray(contrib, dtype=float))
        label = _first_attr(frame, ("label",))
        names.append(str(label) if label is not None else f"frame {i}")
    if len(set(names)) != len(names):
        names = [f"{n} (#{i})" for i, n in enumerate(names)]
    models = list(getattr(traj, "models", None) or dict(_first_attr(frames[0], ("scores",)) or {}))
    scores = pd.DataFrame([dict(_first_attr(f, ("scores",)) or {}) for f in frames], columns=models, dtype=float)
    ranks_rows = [_first_attr(f, ("ranks",)) for f in frames]
    ranks = (pd.DataFrame([dict(r) for r in ranks_rows], columns=models, dtype=float)
             if all(r for r in ranks_rows) else scores.rank(axis=1, ascending=False, method="min"))
    projection = getattr(traj, "projection_name", None)
    return TrajectoryView(
        positions=np.stack(positions),
        centres=np.stack(centres) if all(c is not None for c in centres) else None,
        scores=scores, ranks=ranks, frame_names=names,
        predicted=np.stack(predicted).astype(np.int64) if all(p is not None for p in predicted) else None,
        contribution=np.stack(contribution) if all(c is not None for c in contribution) else None,
        projection=str(projection) if projection else "projection",
    )
