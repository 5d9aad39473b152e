"""Animated scatter of a trajectory beside the live model ranking, in one plotly figure.

A trajectory is shown from plain arrays so that these builders do not depend on the dynamics engine's
classes:

* ``positions`` [F, N, 2] — 2-D sample positions in a projection fixed for the whole trajectory;
* ``centres`` [F, C, 2] — class centres (optional);
* ``scores`` / ``ranks`` — DataFrames [F frames × M models] (rank 1 = best).

The race beside every animation tells only what the data supports (:class:`RaceNotes`, read from a
trajectory by :func:`trajectory_view`): each score with a whisker of ± its noise interval, groups the noise
cannot order bracketed with ≈ (= for float ties when no noise was estimated), ``▲k`` / ``▼k`` and "a
overtakes b" only for order changes beyond the noise ("a passes b: within noise" otherwise), and the frame's
note (saturation, every model within noise). **One axis rule on every page**: each frame's axis is zoomed to
that frame's scores and whiskers, and the bars start at a grey baseline a quarter of that extent below the
lowest whisker — never at 0 — as the axis title says (:func:`race_axis`). The plotly axis itself is fixed at
[0, 1]; each frame maps its own axis onto it and draws its tick values as data, because frames that carry
layout axis ranges are transitioned apart from their traces (bars vanish mid-step).

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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ._style import (
    DOWN_COLOR,
    NOTE_COLOR,
    UP_COLOR,
    WITHIN_NOISE_COLOR,
    base_layout,
    class_colors,
    model_colors,
    short_model_name,
    text_px,
    wrap_text,
)

# Each SVG point costs the browser a styled DOM node on every draw and every frame step; 1,200 (120 per class on
# a 10-class demo) keep every class's shape and bring a frame step under 100 ms here (bench/app.py's scrub rows).
MAX_ANIMATED_POINTS = 1200
FIGURE_HEIGHT = 700  # the scatter + race figure
FIGURE_BOTTOM = 190  # px under the plots: tick labels, the race's three-line axis title, play button and slider


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
    """Pairs (a, b): model a was ranked below b in the previous frame and is above it now — the engine's
    :func:`transvis.dynamics.frames.find_overtakes` (the one definition), as plain pairs."""
    from transvis.dynamics.frames import find_overtakes

    return [(o.model, o.passed) for o in find_overtakes(previous_ranks, ranks)]


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
        low, high, _ = color_range(values)
        crange = dict(cmin=low, cmax=high) if np.isfinite(low) else {}
        markers = [dict(color=row, **crange) for row in (values if varies else values[:1])]
    if not varies:
        markers = markers * n_frames
    return markers, categorical, varies


COLOR_PERCENTILES = (5.0, 95.0)  # continuous colours span this range of the values (outliers clamp to the ends)


def color_range(values) -> tuple[float, float, bool]:
    """``(cmin, cmax, clipped)`` of a continuous colouring over all frames: the 5th–95th percentiles of the
    finite values, so that a few outliers do not squeeze every other point into one colour (e.g. true-class
    posteriors that are ≈ 1 for most samples); the full range where the percentiles coincide. ``clipped``:
    whether some values lie outside (they take the end colours; the colour bar's title says so)."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if not finite.size:
        return float("nan"), float("nan"), False
    low, high = (float(v) for v in np.percentile(finite, COLOR_PERCENTILES))
    if not high > low:
        low, high = float(finite.min()), float(finite.max())
    return low, high, bool(finite.min() < low or finite.max() > high)


def _play_controls(frame_names: list[str], duration_ms: int, prefix: str,
                   plot_height: float = 400.0, below_px: float = 62.0) -> tuple[list, list]:
    """Play/pause buttons and a frame slider below the x-axis title (``plot_height`` = plot area in px,
    ``below_px`` = how far below the plot area the controls start: clear of tick labels and axis titles)."""
    below = -below_px / max(plot_height, 100.0)  # paper units
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
        active=0, x=0.27, y=below + 0.02, len=0.73, xanchor="left", yanchor="top", pad=dict(t=30, b=10),
        currentvalue=dict(prefix=prefix, visible=True, xanchor="right", font=dict(size=13)),
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
        # the title runs along the bar (side="right"): a title on top overlaps the plot beside it
        style.update(marker, colorscale="Viridis", showscale=showscale,
                     colorbar=dict(title=dict(text=color_label, side="right"), thickness=12, x=colorbar_x,
                                   len=0.8))
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


@dataclass
class RaceNotes:
    """What the race tells on each frame besides the bars: the noise, the groups it cannot order, and which
    order changes it supports. Plain data: :func:`trajectory_view` reads it from a trajectory (whose frames
    the dynamics engine annotated, see ``transvis.dynamics.frames.attach_ranks``); :func:`race_notes` builds
    the noise-free version from scores and ranks alone.

    half_widths : {model: ± half-width of its score's confidence interval} (NaN where unknown), or None when the
        noise was not estimated (then only float ties are known, and the race says so).
    level : the intervals' confidence level (e.g. 0.95).
    tiers : per frame, groups of models the frame cannot order (best first; groups of one allowed).
    overtakes : per frame, ``[(a, b)]``: a overtook b beyond the noise.
    within_noise : per frame, ``[(a, b)]``: a passed b in the displayed order, within the noise.
    rank_changes : per frame, ``{model: announced rank change}`` (▲k / ▼k).
    notes : per frame, a sentence when the frame has no ranking to tell (saturation, all within noise), or None.
    badges : per frame, ``{model: short text}`` written after the model's label (e.g. PED's "■ stopped at
        step 4"), or None.
    """

    half_widths: dict[str, float] | None
    level: float
    tiers: list[list[list[str]]]
    overtakes: list[list[tuple[str, str]]]
    within_noise: list[list[tuple[str, str]]]
    rank_changes: list[dict[str, int]]
    notes: list[str | None]
    badges: list[dict[str, str]] | None = None

    @property
    def noise_estimated(self) -> bool:
        return self.half_widths is not None

    def check(self, n_frames: int) -> None:
        for name in ("tiers", "overtakes", "within_noise", "rank_changes", "notes", "badges"):
            if getattr(self, name) is not None and len(getattr(self, name)) != n_frames:
                raise ValueError(f"race notes hold {len(getattr(self, name))} frames of {name} but the ranking has "
                                 f"{n_frames} frames.")


def race_notes(scores: pd.DataFrame, ranks: pd.DataFrame | None = None) -> RaceNotes:
    """:class:`RaceNotes` from scores (and ranks) alone: no noise, so models group only where they share a rank
    (float ties, ``transvis.ordering.tolerant_ranks``) and every rank swap is an overtake."""
    scores = scores.astype(float)
    ranks = _ranks(scores) if ranks is None else ranks.astype(float)
    tiers, taken, changes = [], [], []
    previous = None
    for f in range(len(scores)):
        row = ranks.iloc[f]
        finite = row[np.isfinite(scores.iloc[f])]
        groups: dict[float, list[str]] = {}
        for model in bar_order(scores.iloc[f], row):
            if model in finite.index:
                groups.setdefault(float(finite[model]), []).append(model)
        tiers.append([groups[r] for r in sorted(groups)])
        now = row.to_dict()
        if previous is None:
            taken.append([])
            changes.append({m: 0 for m in now})
        else:
            taken.append(overtakes(previous, now))
            changes.append({m: (0 if np.isnan(previous.get(m, np.nan)) or np.isnan(r) else int(previous[m] - r))
                            for m, r in now.items()})
        previous = now
    n = len(scores)
    return RaceNotes(None, 0.95, tiers, taken, [[] for _ in range(n)], changes, [None] * n)


def _ranks(scores: pd.DataFrame) -> pd.DataFrame:
    from transvis.ordering import tolerant_ranks

    return pd.DataFrame([tolerant_ranks(scores.iloc[f].to_dict()) for f in range(len(scores))], index=scores.index,
                        columns=scores.columns, dtype=float)


def bar_order(scores_row: pd.Series, ranks_row: pd.Series) -> list[str]:
    """Models top to bottom: by rank; models sharing a rank (float ties) in pool order, so they never swap
    between frames (``transvis.ordering.display_order``); NaN scores last."""
    from transvis.ordering import display_order

    scores_row = scores_row.astype(float)
    position = {m: i for i, m in enumerate(display_order(scores_row.to_dict()))}
    return sorted(scores_row.index, key=lambda m: (np.inf if np.isnan(ranks_row[m]) else ranks_row[m], position[m]))


def bar_slots(scores_row: pd.Series, ranks_row: pd.Series) -> pd.Series:
    """Distinct bar positions 1..M in :func:`bar_order` (tied models side by side, never overlapping)."""
    return pd.Series({m: float(i + 1) for i, m in enumerate(bar_order(scores_row, ranks_row))})


def race_axis(scores_row: pd.Series, half_widths: Mapping[str, float] | None = None) -> tuple[float, float, float]:
    """``(baseline, left, right)`` of one frame's race axis, zoomed to that frame.

    The frame's extent is its scores widened by their noise whiskers; the bars start at a baseline a quarter
    of that extent below the lowest whisker (so every bar has a visible length and differences are not
    flattened by a distant zero), the axis starts a little further left (room for the ≈ brackets of groups
    the noise cannot order) and ends just past the highest whisker (names live in the figure's right margin).
    A frame whose scores all coincide gets a span of 1e-6 of their magnitude, so equal bars look equal."""
    values = scores_row.astype(float)
    halves = pd.Series({m: (half_widths or {}).get(m, 0.0) for m in values.index}, dtype=float).fillna(0.0)
    finite = np.isfinite(values.to_numpy())
    if not finite.any():
        return 0.0, -0.15, 1.0
    low = float((values - halves)[finite].min())
    high = float((values + halves)[finite].max())
    span = high - low
    floor = max(1e-6 * max(abs(low), abs(high)), 1e-12)
    if span < floor:
        middle = 0.5 * (low + high)
        low, high, span = middle - floor / 2, middle + floor / 2, floor
    base = low - 0.25 * span
    return base, base - 0.12 * span, high + 0.06 * span


def race_axis_title(metric_label: str, notes: RaceNotes | None) -> str:
    """The race's x-axis title: the metric and what the axis means (stated on every page)."""
    lines = [f"{metric_label} (axis zoomed to each frame:", "bars start at the grey baseline, not at 0)"]
    if notes is not None and notes.noise_estimated:
        lines.append(f"whiskers: {notes.level:.0%} noise interval · ≈ within noise")
    else:
        lines.append("noise not estimated: = marks float ties only")
    return "<br>".join(lines)


RACE_TITLE_LINES = 3


def _title_lines(text: str, width: int) -> str:
    """A subplot title that fits ``width`` characters a line: broken at its " — " (what is shown — how), the
    rest wrapped (NC's "<model> — PCA of the unperturbed features · t = 0.40" takes three lines)."""
    if len(text) <= width:
        return text
    head, sep, tail = text.partition(" — ")
    if not sep:
        return wrap_text(text, width)
    lines = [head]
    for part in tail.split(" · "):  # keep "t = 0.40" whole: break between the " · " parts, words only inside one
        if len(lines) > 1 and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += f" · {part}"
        else:
            lines.extend(wrap_text(part, width).split("<br>"))
    return "<br>".join(lines)


def race_caption(f: int, notes: RaceNotes) -> tuple[str, int]:
    """Frame ``f``'s text under the bars (and its number of lines): the note, the overtakes beyond noise, the
    order changes within it."""
    lines = []
    if notes.notes[f]:
        lines += [f"<span style='color:{NOTE_COLOR}'><b>{part}</b></span>"
                  for part in wrap_text(str(notes.notes[f]), CAPTION_WIDTH).split("<br>")]
    def add(text, color):  # wrapped to the race panel's width, so no line is cut at its edge
        lines.extend(f"<span style='color:{color}'>{part}</span>"
                     for part in wrap_text(text, CAPTION_WIDTH).split("<br>"))

    taken = notes.overtakes[f]
    for i, (a, b) in enumerate(taken[:2]):
        more = f" (+{len(taken) - 2} more)" if i == 1 and len(taken) > 2 else ""
        add(f"{short_model_name(a)} overtakes {short_model_name(b)}{more}", UP_COLOR)
    within = notes.within_noise[f]
    if within:
        a, b = within[0]
        what = "within noise" if notes.noise_estimated else "tied"
        more = f" (+{len(within) - 1} more)" if len(within) > 1 else ""
        add(f"{short_model_name(a)} passes {short_model_name(b)}: {what}{more}", WITHIN_NOISE_COLOR)
    return "<br>".join(lines), len(lines)


# Above the plots [px]: a subplot title of up to three lines (LEGEND_GAP), then the legend (classes + start +
# paths: 3 rows at 1280 px, growing upwards), then the figure's title. 125 px let the legend cover the title
# and a one-line scatter title ran into the race's at 1280 px.
LEGEND_GAP, FIGURE_TOP, FIGURE_TOP_TITLED = 62, 148, 183
SCATTER_TITLE_WIDTH = 36  # characters per line of the scatter's subplot title (its ~300 px at 1280 px)
# the deep dive's pair: three panels share the width, ~170 px a scatter and ~120 px the ranking at 1280 px
PAIRED_TITLE_WIDTH = 18
PAIRED_RACE_TITLE_WIDTH = 12

CAPTION_WIDTH = 40  # characters per caption line under the race (12-px text in the race's ~40 % of the figure)


N_TICKS = 6  # tick slots per frame (unused ones are None, so every frame has the same number of points)


def nice_ticks(low: float, high: float, target: int = 4) -> tuple[list[float], str]:
    """Round tick values in [low, high] (about ``target``, at most :data:`N_TICKS`) and their format."""
    span = high - low
    if not (np.isfinite(span) and span > 0):
        return [low], ".6g"
    raw = span / target
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)
    def count(step):
        return math.floor(high / step) - math.ceil(low / step) + 1

    while count(step) > N_TICKS:
        step *= 2.0
    while count(step) < 3 and count(step / 2.0) <= N_TICKS:
        step /= 2.0
    first, last = math.ceil(low / step), math.floor(high / step)
    values = [k * step for k in range(first, last + 1)]
    exponent = math.floor(math.log10(step) + 1e-12)
    mantissa = step / 10.0**exponent
    decimals = max(0, -exponent) + (0 if abs(mantissa - round(mantissa)) < 1e-6 else 1)
    magnitude = max(abs(low), abs(high))
    fmt = f".{decimals}f" if 1e-3 <= magnitude < 1e6 else ".3g"  # tiny or huge scores: significant digits
    return values, fmt


def _unit_x(value, axis: tuple[float, float, float]):
    """Score units → the race's fixed [0, 1] x-units of a frame whose ``axis`` is (baseline, left, right)."""
    _, left, right = axis
    return (np.asarray(value, dtype=float) - left) / (right - left)


@dataclass(frozen=True)
class _RaceFrameData:
    """One frame of the race, in the race's fixed [0, 1] x-units (see :func:`_race_frame`)."""

    f: int
    notes: RaceNotes
    models: list[str]
    score: pd.Series
    ranks_now: pd.Series
    slots: pd.Series
    y: np.ndarray
    halves: dict[str, float]
    ends: np.ndarray  # where each bar ends (NaN scores: at the baseline)
    u_base: float
    axis: tuple[float, float, float]

    def u(self, value):
        return _unit_x(value, self.axis)

    @classmethod
    def build(cls, f: int, scores_row: pd.Series, ranks_row: pd.Series, notes: RaceNotes, axis):
        score, ranks_now = scores_row.astype(float), ranks_row.astype(float)
        models = list(scores_row.index)
        slots = bar_slots(score, ranks_now)
        halves = {m: float((notes.half_widths or {}).get(m, np.nan)) for m in models}
        u_base = float(_unit_x(axis[0], axis))
        ends = np.where(np.isfinite(score.to_numpy()), _unit_x(score.to_numpy(), axis), u_base)
        return cls(f, notes, models, score, ranks_now, slots, slots[models].to_numpy(), halves, ends, u_base, axis)


def _race_frame(f: int, scores_row: pd.Series, ranks_row: pd.Series, notes: RaceNotes, colors, axis):
    """Frame ``f`` of the ranking, as six traces (all plain scatters but the bars, so frames step in place):

    * bars from the frame's baseline to each score, one slot per model (:func:`bar_order`);
    * the baseline and each score's noise whisker (± the interval's half-width);
    * each model's label past its whisker: ``#rank name`` and its announced rank change (▲k green / ▼k red);
    * the caption under the bars (note, overtakes, within-noise changes) and dark outlines of the bars that
      moved beyond noise;
    * a bracket with ≈ beside each run of models the frame cannot order (= where only float ties are known);
    * the frame's own axis: tick marks and values above the bars.

    The race's plotly axis is fixed at [0, 1]; each frame maps its own ``axis`` = (baseline, left, right)
    onto it and draws its tick values as data. (Frames carrying ``layout`` axis ranges were tried: plotly
    then transitions the axis and the traces separately, and mid-step the bars vanish and labels land on the
    neighbouring panel.) The frame's axis in score units is kept on the ticks trace's ``meta``.
    """
    frame = _RaceFrameData.build(f, scores_row, ranks_row, notes, axis)
    return (_race_bars(frame, colors), _race_whiskers(frame), _race_labels(frame), _race_outlines(frame),
            _race_brackets(frame), _race_ticks(frame))


def _race_bars(fr: _RaceFrameData, colors) -> go.Bar:
    """Bars from the baseline to each score, hovering rank, score ± noise and the models it cannot order."""
    tier_of = {m: tier for tier in fr.notes.tiers[fr.f] for m in tier}

    def score_text(m):
        if not np.isfinite(fr.score[m]):
            return "failed (NaN)"
        h = fr.halves[m]
        return f"{fr.score[m]:.5g} ± {h:.2g}" if np.isfinite(h) else f"{fr.score[m]:.5g}"

    def mates(m):
        others = [short_model_name(o) for o in tier_of.get(m, [m]) if o != m]
        if not others:
            return ""
        return ("within noise of " if fr.notes.noise_estimated else "tied with ") + ", ".join(others)

    return go.Bar(
        x=fr.ends - fr.u_base, base=fr.u_base, y=fr.y, orientation="h",
        marker=dict(color=[colors[m] for m in fr.models], line=dict(width=0)),
        customdata=[[short_model_name(m), f"{fr.ranks_now[m]:g}" if np.isfinite(fr.ranks_now[m]) else "–",
                     score_text(m), mates(m)] for m in fr.models],
        hovertemplate="<b>%{customdata[0]}</b><br>rank %{customdata[1]}<br>score %{customdata[2]}<br>"
                      "%{customdata[3]}<extra></extra>",
        showlegend=False, name="ranking", width=0.72,
    )


def _race_whiskers(fr: _RaceFrameData) -> go.Scatter:
    """The baseline, then a whisker with caps per model (None-separated segments; a fixed number of points)."""
    wx, wy = [fr.u_base, fr.u_base], [0.5, len(fr.models) + 0.5]
    for m, slot in zip(fr.models, fr.y):
        h = fr.halves[m]
        if np.isfinite(fr.score[m]) and np.isfinite(h) and h > 0:
            lo, hi = float(fr.u(fr.score[m] - h)), float(fr.u(fr.score[m] + h))
            wx += [None, lo, hi, None, lo, lo, None, hi, hi]
            wy += [None, slot, slot, None, slot - 0.16, slot + 0.16, None, slot - 0.16, slot + 0.16]
        else:
            wx += [None] * 9
            wy += [None] * 9
    return go.Scatter(x=wx, y=wy, mode="lines", line=dict(color="#555555", width=1.5), hoverinfo="skip",
                      showlegend=False, name="noise")


def _race_labels(fr: _RaceFrameData) -> go.Scatter:
    """``#rank name ▲k`` (and the frame's badge) past each model's whisker; ``≈ name`` when one tier holds all."""
    score, notes = fr.score, fr.notes
    changes = notes.rank_changes[fr.f]
    finite = np.isfinite(score.to_numpy())
    # a frame whose one tier holds every finite model ranks nobody: every label is "≈ name" (= for float ties)
    n_finite = int(finite.sum())
    all_tied = n_finite >= 2 and any(len([m for m in tier if np.isfinite(score.get(m, np.nan))]) == n_finite
                                     for tier in notes.tiers[fr.f])
    tie_mark = "≈ " if notes.noise_estimated else "= "
    badges = (notes.badges[fr.f] if notes.badges is not None else None) or {}
    label_x, texts = [], []
    for m, end in zip(fr.models, fr.ends):
        h = fr.halves[m]
        reach = float(fr.u(score[m] + h)) if np.isfinite(score[m]) and np.isfinite(h) else float(end)
        label_x.append(max(reach, float(end)) + 0.01)
        delta = changes.get(m, 0)
        mark = (f" <span style='color:{UP_COLOR}'><b>▲{delta}</b></span>" if delta > 0 else
                f" <span style='color:{DOWN_COLOR}'><b>▼{-delta}</b></span>" if delta < 0 else "")
        rank = ("– " if not np.isfinite(score[m]) else tie_mark if all_tied else
                f"#{fr.ranks_now[m]:g} " if np.isfinite(fr.ranks_now[m]) else "– ")
        badge = f" <span style='color:{NOTE_COLOR}'>{badges[m]}</span>" if badges.get(m) else ""
        texts.append(rank + short_model_name(m) + mark + badge)
    return go.Scatter(x=label_x, y=fr.y, mode="text", text=texts, textposition="middle right",
                      textfont=dict(color="#222", size=12), cliponaxis=False, hoverinfo="skip", showlegend=False,
                      name="labels")


def _race_outlines(fr: _RaceFrameData) -> go.Scatter:
    """The caption under the bars (its first point) and dark outlines of the bars that moved beyond noise."""
    n = len(fr.models)
    changes = fr.notes.rank_changes[fr.f]
    caption, _ = race_caption(fr.f, fr.notes)
    xs, ys = [0.01], [n + 0.75]
    for m, slot, end in zip(fr.models, fr.y, fr.ends):
        if changes.get(m, 0) != 0:
            xs += [None, fr.u_base, end, end, fr.u_base, fr.u_base]
            ys += [None, slot - 0.36, slot - 0.36, slot + 0.36, slot + 0.36, slot - 0.36]
    xs += [None] * (1 + 6 * n - len(xs))
    ys += [None] * (1 + 6 * n - len(ys))
    return go.Scatter(
        x=xs, y=ys, mode="lines+text", text=[caption or " "] + [" "] * (len(xs) - 1), textposition="bottom right",
        textfont=dict(color="#222", size=12), line=dict(color="#111", width=3), showlegend=False,
        hoverinfo="skip", name="rank changes", cliponaxis=False,
    )


def _consecutive_runs(values: list[float]) -> list[list[float]]:
    """Sorted slot numbers split into runs of consecutive values: [1, 2, 4] → [[1, 2], [4]]."""
    runs, current = [], []
    for s in values:
        if current and s != current[-1] + 1:
            runs.append(current)
            current = []
        current.append(s)
    if current:
        runs.append(current)
    return runs


def _race_brackets(fr: _RaceFrameData) -> go.Scatter:
    """One bracket with ≈ (= without noise) per run of consecutive slots whose models the frame cannot order."""
    bx, by, btext = [], [], []
    x0, arm = fr.u_base - 0.045, 0.03
    symbol = "≈" if fr.notes.noise_estimated else "="
    for tier in fr.notes.tiers[fr.f]:
        for run in _consecutive_runs(sorted(fr.slots[m] for m in tier if m in fr.slots.index)):
            if len(run) < 2:
                continue
            top, bottom = run[0] - 0.3, run[-1] + 0.3
            bx += [x0 + arm, x0, x0, x0, x0 + arm, None]
            by += [top, top, 0.5 * (top + bottom), bottom, bottom, None]
            btext += [" ", " ", symbol, " ", " ", " "]
    size = 6 * max(len(fr.models) // 2, 1)
    bx, by, btext = bx + [None] * (size - len(bx)), by + [None] * (size - len(by)), btext + [" "] * (size - len(btext))
    return go.Scatter(x=bx, y=by, mode="lines+text", text=btext, textposition="middle left",
                      textfont=dict(color="#333", size=16), line=dict(color="#777", width=1.5), cliponaxis=False,
                      hoverinfo="skip", showlegend=False, name="within noise")


def _race_ticks(fr: _RaceFrameData) -> go.Scatter:
    """The frame's axis: tick marks on top of the bars, values above them (score units kept on ``meta``)."""
    base, left, right = fr.axis
    values, fmt = nice_ticks(base, right)
    tx, ty, ttext = [], [], []
    for k in range(N_TICKS):
        if k < len(values):
            position = float(fr.u(values[k]))
            tx += [position, position, None]
            ty += [0.28, 0.42, None]
            ttext += [format(values[k], fmt), " ", " "]
        else:
            tx += [None] * 3
            ty += [None] * 3
            ttext += [" "] * 3
    return go.Scatter(x=tx, y=ty, mode="lines+text", text=ttext, textposition="top center",
                      textfont=dict(color="#444", size=11), line=dict(color="#888", width=1), cliponaxis=False,
                      hoverinfo="skip", showlegend=False, name="axis",
                      meta={"range": [left, right], "baseline": base})


def ranking_race(
    scores: pd.DataFrame,
    ranks: pd.DataFrame | None = None,
    frame_names: Sequence[str] | None = None,
    colors: dict[str, str] | None = None,
    metric_label: str = "score",
    title: str | None = None,
    duration_ms: int = 600,
    race: RaceNotes | None = None,
) -> go.Figure:
    """Animated bar chart of the model ranking, re-sorted at every frame.

    scores : DataFrame [F × M] (frames × models); ranks : same shape (1 = best), float-tolerant ranks of the
    scores when omitted; race : what each frame tells beyond the bars (:class:`RaceNotes`; from scores alone
    when omitted: no noise). Each frame's axis is zoomed to that frame (:func:`race_axis`); a model that moved
    beyond noise gets a dark outline and ``▲k`` / ``▼k``, and the frame's note, overtakes and within-noise
    changes are written under the bars.
    """
    fig = go.Figure()
    height = max(380, 48 * scores.shape[1] + 280)
    _add_race(fig, scores, ranks, frame_names, colors, metric_label, duration_ms, race, row=None, col=None,
              plot_height=height - 60 - 190)
    fig = base_layout(fig, title or f"Model ranking by {metric_label}", height=height)
    fig.update_layout(margin=dict(b=190, r=race_margin(scores.columns, race=race)))
    return fig


def _race_frames(scores, ranks, colors, race):
    """Per-frame race traces and per-frame axes ``(baseline, left, right)``."""
    scores = scores.astype(float)
    ranks = _ranks(scores) if ranks is None else ranks.astype(float)
    if ranks.shape != scores.shape:
        raise ValueError(f"ranks {ranks.shape} and scores {scores.shape} must have the same shape [F × M].")
    notes = race_notes(scores, ranks) if race is None else race
    notes.check(len(scores))
    colors = colors or model_colors(scores.columns)
    axes = [race_axis(scores.iloc[f], notes.half_widths) for f in range(len(scores))]
    frames = [_race_frame(f, scores.iloc[f], ranks.iloc[f], notes, colors, axes[f]) for f in range(len(scores))]
    lines = max((race_caption(f, notes)[1] for f in range(len(scores))), default=0)
    return frames, axes, lines, notes


def race_margin(models: Sequence[str], font_px: int = 12, race: RaceNotes | None = None) -> int:
    """Right margin [px] that fits the longest ``#rank name`` label plus a ``▲k`` mark written past the longest
    bar, and the model's longest badge (``race.badges``, e.g. PED's "■ stopped at step 4") after it (the race
    is the rightmost panel and its text is not clipped to the axes)."""
    badge = {m: 0 for m in models}
    for per_frame in (race.badges or []) if race is not None else []:
        for m, text in (per_frame or {}).items():
            if m in badge and text:
                badge[m] = max(badge[m], len(str(text)) + 1)
    longest = max((len(short_model_name(m)) + badge[m] for m in models), default=8) + 3
    return int(text_px(longest, font_px) + 40)


def _add_race(fig, scores, ranks, frame_names, colors, metric_label, duration_ms, race, row, col, plot_height=300.0):
    """Add the race's traces (frame 0) to ``fig``; returns (per-frame traces, trace indices)."""
    names = _frame_names(frame_names, len(scores))
    frames, axes, caption_lines, notes = _race_frames(scores, ranks, colors, race)
    n_models = scores.shape[1]
    kw = {} if row is None else dict(row=row, col=col)
    first = len(fig.data)
    for trace in frames[0]:
        fig.add_trace(trace, **kw)
    # room under the bars for the longest caption (≈ 16 px a line) and above them for the tick values, in slots
    extra_px = 16.0 * caption_lines + 8.0
    usable = max(plot_height - extra_px - 22.0, 80.0)
    per_px = (n_models + 0.2) / usable
    fig.update_yaxes(range=[n_models + 0.6 + extra_px * per_px, 0.4 - 22.0 * per_px], showticklabels=False,
                     title=None, showgrid=False, zeroline=False, **kw)
    # fixed [0, 1]: every frame maps its own zoomed axis onto it and draws its ticks as data (see _race_frame)
    fig.update_xaxes(range=[0.0, 1.0], showticklabels=False, showgrid=False, zeroline=False,
                     title=dict(text=race_axis_title(metric_label, notes), font=dict(size=12)), **kw)
    indices = list(range(first, first + len(frames[0])))
    if row is None:
        fig.frames = [go.Frame(name=n, data=list(d), traces=indices) for n, d in zip(names, frames)]
        menus, sliders = _play_controls(names, duration_ms, "frame: ", plot_height, below_px=RACE_BELOW_PX)
        fig.update_layout(updatemenus=menus, sliders=sliders)
    return frames, indices


RACE_BELOW_PX = 10.0 + 16.0 * RACE_TITLE_LINES  # the axis title's lines (the race draws its ticks on top)


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
    if not categorical and color is not None and color_range(np.asarray(color)[..., keep])[2]:
        color_label = f"{color_label} (5–95 % range)".strip()
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
    race: RaceNotes | None = None,
    show_start: bool = False,
) -> go.Figure:
    """The page's main figure: the animated scatter (left) and the live ranking (right), one slider.

    Arguments as :func:`animated_scatter` and :func:`ranking_race`; ``scores`` must have one row per frame
    of ``positions``; ``race`` (``trajectory_view(traj, model).race``) carries the noise, the frames' notes and
    which order changes are beyond noise. Both panels move together because they share the figure's frames
    (each frame also zooms the race's axis to itself). ``show_start``: the first frame stays drawn behind the
    moving points (grey) with each class centre's path over the trajectory (:func:`start_traces`), so a small
    movement is seen against where it started.
    """
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], horizontal_spacing=0.09,
                        subplot_titles=(_title_lines(scatter_title, SCATTER_TITLE_WIDTH), f"ranking by {metric_label}"))
    per_frame, scatter_idx, names = _add_scatter(
        fig, positions, labels, class_names, centres, frame_names, color, color_label, hover,
        max_points, seed, row=1, col=1, colorbar_x=0.53)
    if len(scores) != len(names):
        raise ValueError(f"scores has {len(scores)} rows but the trajectory has {len(names)} frames.")
    top = FIGURE_TOP_TITLED if title else FIGURE_TOP
    plot_height = FIGURE_HEIGHT - top - FIGURE_BOTTOM
    race_traces, race_idx = _add_race(fig, scores, ranks, names, colors, metric_label, duration_ms, race,
                                      row=1, col=2, plot_height=plot_height)
    fig.frames = [
        go.Frame(name=n, data=[*per_frame[f], *race_traces[f]], traces=[*scatter_idx, *race_idx])
        for f, n in enumerate(names)
    ]
    if show_start:  # static traces after every animated one: the frames' trace indices stay as they are
        for trace in start_traces(per_frame, centres, class_names):
            fig.add_trace(trace, row=1, col=1)
    menus, sliders = _play_controls(names, duration_ms, slider_prefix, plot_height=plot_height,
                                    below_px=RACE_BELOW_PX)
    fig = base_layout(fig, title, height=FIGURE_HEIGHT)
    fig.update_layout(updatemenus=menus, sliders=sliders,
                      margin=dict(b=FIGURE_BOTTOM, t=top, r=race_margin(scores.columns, race=race),
                                  autoexpand=False),
                      legend=dict(orientation="h", x=0, y=1 + LEGEND_GAP / plot_height, yanchor="bottom",
                                  xanchor="left"))
    if title:
        fig.update_layout(title=dict(y=0.985, yref="container", yanchor="top"))
    return fig


START_COLOR = "rgba(110, 110, 110, 0.28)"
MAX_START_POINTS = 600  # the grey start cloud only shows where the points were: a thinned copy is enough


def start_traces(per_frame, centres, class_names) -> list[go.Scatter]:
    """Static traces of where the animation started: the first frame's (sampled) points in grey, every k-th
    one so that at most :data:`MAX_START_POINTS` are drawn, and each class centre's path over all frames (a
    dotted line in the class colour, from the first to the last frame).
    ``per_frame``: the scatter's per-frame traces (first: samples); centres [F, C, 2] or None."""
    first = per_frame[0][0]
    stride = max(1, -(-len(first.x) // MAX_START_POINTS))
    traces = [go.Scatter(x=list(first.x)[::stride], y=list(first.y)[::stride], mode="markers",
                         name="start (first frame)", marker=dict(size=5, color=START_COLOR, line=dict(width=0)),
                         hoverinfo="skip", showlegend=True)]
    if centres is not None:
        cen = _as_frames(centres)
        palette = class_colors(len(class_names))
        for c in range(cen.shape[1]):
            traces.append(go.Scatter(x=cen[:, c, 0], y=cen[:, c, 1], mode="lines", hoverinfo="skip",
                                     line=dict(color=palette[c % len(palette)], width=2, dash="dot"),
                                     name="centre paths", legendgroup="centre paths", showlegend=c == 0))
    return traces


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
                        subplot_titles=(_title_lines(short_model_name(name_a), PAIRED_TITLE_WIDTH),
                                        _title_lines(short_model_name(name_b), PAIRED_TITLE_WIDTH),
                                        _title_lines(f"ranking by {metric_label}", PAIRED_RACE_TITLE_WIDTH)))
    frame_a, idx_a, names = _add_scatter(fig, a.positions, labels, class_names, a.centres, a.frame_names, None, "",
                                         None, max_points, seed, row=1, col=1)
    # the second panel's legend entries would duplicate the first's
    frame_b, idx_b, _ = _add_scatter(fig, b.positions, labels, class_names, b.centres, b.frame_names, None, "",
                                     None, max_points, seed, row=1, col=2)
    for trace in fig.data[idx_b[-1] + 1:]:
        trace.showlegend = False
    top = FIGURE_TOP_TITLED if title else FIGURE_TOP
    plot_height = 620 - top - FIGURE_BOTTOM
    race_traces, race_idx = _add_race(fig, a.scores, a.ranks, names, colors, metric_label, duration_ms,
                                      a.race, row=1, col=3, plot_height=plot_height)
    fig.frames = [
        go.Frame(name=n, data=[*frame_a[f], *frame_b[f], *race_traces[f]], traces=[*idx_a, *idx_b, *race_idx])
        for f, n in enumerate(names)
    ]
    menus, sliders = _play_controls(names, duration_ms, "", plot_height=plot_height, below_px=RACE_BELOW_PX)
    fig = base_layout(fig, title, height=620)
    fig.update_layout(updatemenus=menus, sliders=sliders,
                      margin=dict(b=FIGURE_BOTTOM, t=top, r=race_margin(a.scores.columns, race=a.race),
                                  autoexpand=False),
                      legend=dict(orientation="h", x=0, y=1 + LEGEND_GAP / plot_height, yanchor="bottom",
                                  xanchor="left"))
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
    sample_ids=None,
) -> go.Figure:
    """The full-set overview [N, 2] (no sampling, no frames): WebGL above ``webgl_above`` points.

    One trace per class when coloured by label (legend toggles classes), else one trace with a colour
    scale; ``customdata`` holds each sample's index for lasso/box selection: its row, or ``sample_ids[row]``
    [N] when the rows are a subset of the samples (numbered so in the hover too).
    """
    pos = _as_frames(positions, np.asarray(labels).size)[0]
    labels = np.asarray(labels)
    names = list(class_names)
    ids = np.arange(labels.size) if sample_ids is None else np.asarray(sample_ids, dtype=np.int64)
    hover = [f"#{ids[i]} · {names[int(labels[i])]}" for i in range(labels.size)] if hover is None else list(hover)
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
                marker=dict(size=6, color=palette[c], opacity=0.8), customdata=_sample_customdata(ids[idx]),
                text=[hover[i] for i in idx], hovertemplate="%{text}<extra></extra>",
            ))
    else:
        color = np.asarray(color)
        categorical = np.issubdtype(color.dtype, np.integer)
        marker = (dict(size=6, color=[palette[int(c) % len(palette)] for c in color]) if categorical
                  else dict(size=6, color=color.astype(float), colorscale="Viridis", showscale=True,
                            colorbar=dict(title=color_label, thickness=12)))
        fig.add_trace(trace_cls(
            x=pos[:, 0], y=pos[:, 1], mode="markers", marker=marker, customdata=_sample_customdata(ids),
            text=hover, hovertemplate="%{text}<extra></extra>", showlegend=False,
        ))
    fig.update_xaxes(title=axis_titles[0])
    fig.update_yaxes(title=axis_titles[1])
    fig.update_layout(dragmode="lasso")
    base_layout(fig, title, height=520)
    # Margins fixed to fit the legend (or colour bar): where plotly has to widen them itself it draws the figure
    # twice.
    if color is None:  # the class legend: symbol, then the longest name at ~8 px a character (13 px font)
        right = 48 + 8 * max((len(str(n)) for n in names), default=4)
    else:  # the colour bar, or nothing beside the plot for categorical colours
        right = 30 if categorical else 110
    fig.update_layout(margin=dict(r=right, autoexpand=False))
    return fig


@dataclass
class TrajectoryView:
    """One model's view of a trajectory, as plain arrays for :func:`dynamics_figure`.

    positions [F, N, 2], centres [F, C, 2] or None, scores / ranks DataFrames [F × M], frame_names [F],
    predicted int [F, N] or None, contribution float [F, N] or [N] or None, projection (its name), race
    (:class:`RaceNotes`: noise, notes and announced order changes; None when the frames carry none).
    """

    positions: np.ndarray
    centres: np.ndarray | None
    scores: pd.DataFrame
    ranks: pd.DataFrame
    frame_names: list[str]
    predicted: np.ndarray | None = None
    contribution: np.ndarray | None = None
    projection: str = "projection"
    race: RaceNotes | None = None


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
             if all(r for r in ranks_rows) else _ranks(scores))
    projection = getattr(traj, "projection_name", None)
    race = race_from_trajectory(traj, models) if all(hasattr(f, "tiers") for f in frames) else None
    return TrajectoryView(
        positions=np.stack(positions),
        centres=np.stack(centres) if all(c is not None for c in centres) else None,
        scores=scores, ranks=ranks, frame_names=names,
        predicted=np.stack(predicted).astype(np.int64) if all(p is not None for p in predicted) else None,
        contribution=np.stack(contribution) if all(c is not None for c in contribution) else None,
        projection=str(projection) if projection else "projection", race=race,
    )


def race_from_trajectory(traj: Any, models: Sequence[str] | None = None) -> RaceNotes:
    """:class:`RaceNotes` of a trajectory whose frames carry ``tiers``, ``overtakes``, ``within_noise``,
    ``rank_changes`` and ``note`` (the dynamics engine's); the whiskers are ``traj.noise``'s interval
    half-widths (None: noise not estimated)."""
    frames = list(traj.frames)
    models = list(models if models is not None else getattr(traj, "models", None) or frames[0].scores)
    noise = getattr(traj, "noise", None)
    half_widths, level = None, 0.95
    if noise is not None:
        half_widths = {}
        for m in models:
            if m in noise.estimate:
                low, high = noise.interval(m, 0.0)
                half_widths[m] = float(high)
            else:
                half_widths[m] = float("nan")
        level = float(getattr(getattr(noise, "resampling", None), "level", 0.95))

    def pairs(items):
        return [(o.model, o.passed) for o in items or []]

    return RaceNotes(
        half_widths=half_widths, level=level,
        tiers=[[list(t) for t in (f.tiers or [])] for f in frames],
        overtakes=[pairs(getattr(f, "overtakes", [])) for f in frames],
        within_noise=[pairs(getattr(f, "within_noise", [])) for f in frames],
        rank_changes=[{m: int(v) for m, v in (getattr(f, "rank_changes", None) or {}).items()} for f in frames],
        notes=[getattr(f, "note", None) for f in frames],
    )
