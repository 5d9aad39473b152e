"""Figures of each method's own quantities (from metric traces or dynamics frames), one colour per model.

* :func:`before_after_bars` — a quantity before and after a perturbation, per model (FSP, PED).
* :func:`small_multiples_bars` — several quantities with different scales, one panel each (NC1–NC4, FaCe).
* :func:`per_class_bars` — a per-class quantity for one or more models (posteriors, NC1 shares).
* :func:`matrix_heatmap` / :func:`gram_vs_etf` — class × class matrices (overlap, confusion, Gram vs ETF).
* :func:`curves` — per-step curves with an optional threshold line (PED position change vs exit ratio).
* :func:`histograms` — per-sample distributions (ConfMix mixing weights).
* :func:`spectrum_plot` — eigenvalue spectra on a log axis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ._style import FONT, base_layout, model_colors, short_model_name, text_px, wrap_text


def _colors(models, colors):
    return colors or model_colors(models)


def before_after_bars(
    before: pd.Series,
    after: pd.Series,
    quantity: str,
    colors: dict[str, str] | None = None,
    labels: tuple[str, str] = ("before", "after"),
    title: str | None = None,
    after_error: pd.Series | None = None,
    level: float = 0.95,
    before_error: pd.Series | None = None,
) -> go.Figure:
    """Paired horizontal bars per model, first model on top: ``before`` (light, hatched) and ``after`` (solid) a
    perturbation. ``after_error`` and ``before_error`` (half-widths of the scores' ``level`` intervals, by model)
    draw them as whiskers on their bars, named in the legend; a model missing from them has none. Horizontal, so
    that model names read level at any width (slanted under vertical bars they took half a narrow chart's
    height)."""
    models = list(before.index)
    colors = _colors(models, colors)
    names = [short_model_name(m) for m in models]

    def series(values, label, error, **style):
        whiskers, name = None, label
        if error is not None:
            half = error.reindex(models).astype(float).to_numpy()
            whiskers = dict(type="data", array=half, visible=True, color="#444", thickness=1.5, width=3)
            name = f"{label} (whiskers: {level:.0%} interval)"
        return go.Bar(y=names, x=values.reindex(models).astype(float).to_numpy(), name=name, error_x=whiskers,
                      orientation="h", hovertemplate="%{y}<br>" + label + ": %{x:.4g}"
                      + (" ± %{error_x.array:.2g}" if whiskers else "") + "<extra></extra>", **style)

    fig = go.Figure([
        series(before, labels[0], before_error, opacity=0.45,
               marker=dict(color=[colors[m] for m in models], pattern=dict(shape="/"))),
        series(after, labels[1], after_error, marker=dict(color=[colors[m] for m in models])),
    ])
    fig.update_xaxes(title=wrap_text(quantity, 28))  # the plot is ~200 px wide in a half-page column at 1280 px
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig = base_layout(fig, title or f"{quantity}: {labels[0]} vs {labels[1]}", height=max(360, 34 * len(models) + 170))
    # the legend above the plot, in one row: at the side it took half the width of a half-page column
    fig.update_layout(barmode="group", margin=dict(t=105, l=10), bargap=0.25,
                      legend=dict(orientation="h", x=0.0, xanchor="left", y=1.02, yanchor="bottom",
                                  traceorder="normal"))
    return fig


def small_multiples_bars(
    table: pd.DataFrame,
    colors: dict[str, str] | None = None,
    titles: Mapping[str, str] | None = None,
    title: str | None = None,
    cols: int = 3,
    intervals: Mapping[str, Mapping[str, tuple[float, float]]] | None = None,
    level: float = 0.95,
    title_width: int = 20,
) -> go.Figure:
    """One horizontal bar panel per column of ``table`` [models × quantities], each with its own x scale.

    The models are named once, on the left of each row of panels, first model on top; a panel's title is its
    quantity (``titles``, wrapped at spaces into lines of about ``title_width`` characters). ``intervals``
    {quantity: {model: (low, high)}} draws the ``level`` intervals a quantity has as whiskers; panels without one
    say "no interval" in their title."""
    quantities = list(table.columns)
    models = list(table.index)
    colors = _colors(models, colors)
    titles = titles or {}
    intervals = intervals or {}
    rows = int(np.ceil(len(quantities) / cols))
    names = [short_model_name(m) for m in models]

    def heading(q: str) -> str:
        text = wrap_text(titles.get(q, q), title_width)
        if intervals:
            text += f"<br><sup>whiskers: {level:.0%} interval</sup>" if q in intervals else "<br><sup>no interval</sup>"
        return text

    # in pixels: a panel, the gap between rows of panels (their tick labels, then the next row's titles), margins
    panel, gap, top, bottom = 18 * len(models) + 30, 95, (100 if title else 75), 40
    plot_height = rows * panel + (rows - 1) * gap
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[heading(q) for q in quantities], shared_yaxes=True,
                        vertical_spacing=gap / plot_height if rows > 1 else 0.0, horizontal_spacing=0.03)
    for i, q in enumerate(quantities):
        values = table[q].astype(float).to_numpy()
        whiskers = None
        if q in intervals:
            bounds = np.array([intervals[q].get(m, (np.nan, np.nan)) for m in models], dtype=float).reshape(-1, 2)
            # an unbounded end (e.g. NC1 when the score's interval reaches 0) runs well past the panel's other bars
            finite = np.concatenate([values[np.isfinite(values)], bounds[np.isfinite(bounds)]])
            reach = 1.5 * np.abs(finite).max() if finite.size else 1.0
            bounds = np.where(np.isposinf(bounds), reach, np.where(np.isneginf(bounds), -reach, bounds))
            whiskers = dict(type="data", symmetric=False, array=np.maximum(bounds[:, 1] - values, 0.0),
                            arrayminus=np.maximum(values - bounds[:, 0], 0.0), visible=True, color="#444",
                            thickness=1.5, width=3)
        fig.add_trace(go.Bar(
            y=names, x=values, orientation="h", marker_color=[colors[m] for m in models], error_x=whiskers,
            name=titles.get(q, q), showlegend=False,
            hovertemplate="%{y}<br>" + titles.get(q, q) + " = %{x:.4g}<extra></extra>",
        ), row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(nticks=4, tickformat=".3~g", automargin=True)
    for annotation in fig.layout.annotations:  # subplot titles: the body font, not a headline
        annotation.font = dict(size=12)
    fig = base_layout(fig, title, height=plot_height + top + bottom)
    fig.update_layout(margin=dict(t=top, b=bottom, l=10))
    return fig


def per_class_bars(
    values: Mapping[str, Sequence[float]] | pd.DataFrame,
    class_names: Sequence[str],
    quantity: str,
    colors: dict[str, str] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Grouped bars: x = class, one bar series per model (``values[model]`` is a length-C array)."""
    table = values if isinstance(values, pd.DataFrame) else pd.DataFrame(
        {m: np.asarray(v, dtype=float) for m, v in values.items()}, index=list(class_names))
    colors = _colors(list(table.columns), colors)
    fig = go.Figure([
        go.Bar(x=list(class_names), y=table[m].to_numpy(dtype=float), name=short_model_name(m),
               marker_color=colors[m], hovertemplate="%{x}<br>" + quantity + " = %{y:.4g}<extra>"
               + short_model_name(m) + "</extra>")
        for m in table.columns
    ])
    fig.update_layout(barmode="group")
    fig.update_yaxes(title=quantity)
    return base_layout(fig, title or f"{quantity} per class", height=400)


def matrix_heatmap(
    matrix,
    row_labels: Sequence[str],
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
    colorscale: str = "Blues",
    zmin: float | None = None,
    zmax: float | None = None,
    value_label: str = "value",
    text_format: str = ".2f",
) -> go.Figure:
    """A [R × K] matrix as an annotated heat map (rows top to bottom in the given order)."""
    z = np.asarray(matrix, dtype=float)
    col_labels = list(col_labels) if col_labels is not None else list(row_labels)
    if z.shape != (len(row_labels), len(col_labels)):
        raise ValueError(f"matrix {z.shape} does not match {len(row_labels)} row and {len(col_labels)} column labels.")
    show_text = z.size <= 400
    fig = go.Figure(go.Heatmap(
        z=z, x=col_labels, y=list(row_labels), colorscale=colorscale, zmin=zmin, zmax=zmax,
        texttemplate="%{z:" + text_format + "}" if show_text else None,
        colorbar=dict(title=value_label, thickness=12),
        hovertemplate="%{y} → %{x}<br>" + value_label + " = %{z:.4g}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, title, height=max(360, 28 * len(row_labels) + 160))


def gram_vs_etf(mean_gram, etf_gram, class_names: Sequence[str], distance: float | None = None,
                title: str | None = None) -> go.Figure:
    """Side-by-side heat maps: the Gram matrix of normalised centred class means and the ideal simplex ETF.

    Both are symmetric, so the classes are named once, on the rows; the title wraps (the figure sits in a column
    of 400–500 px at 1280 px, where one line and the columns' labels did not fit)."""
    g, e = np.asarray(mean_gram, dtype=float), np.asarray(etf_gram, dtype=float)
    names = list(class_names)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("class means (cosines)", "ideal simplex ETF"),
                        horizontal_spacing=0.06)
    for col, z in ((1, g), (2, e)):
        fig.add_trace(go.Heatmap(z=z, x=names, y=names, zmin=-1, zmax=1, colorscale="RdBu", showscale=col == 2,
                                 colorbar=dict(title="cos", thickness=12),
                                 hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>"), row=1, col=col)
    fig.update_yaxes(autorange="reversed")
    fig.update_yaxes(showticklabels=False, row=1, col=2)  # same classes as the left panel
    fig.update_xaxes(showticklabels=False)  # symmetric: the rows name the columns too
    for annotation in fig.layout.annotations:
        annotation.font = dict(size=12)
    suffix = f"<br>distance to ETF ‖G − ETF‖ = {distance:.3f}" if distance is not None else ""
    fig = base_layout(fig, wrap_text(title or "Class-mean geometry", 44) + suffix, height=400)
    fig.update_layout(margin=dict(t=100 if suffix else 70, b=20))
    return fig


# More lines than this and a legend at the side takes most of a half-page column (the plot shrank to ~70 px at
# 1280 × 720): it goes under the plot instead, and the figure grows by its rows.
SIDE_LEGEND_MAX = 6
LEGEND_ROW_PX = 22
LEGEND_BELOW_PLOT_PX = 62  # the legend's top under the plot area: below the tick labels and the x-axis title
AXIS_BELOW_PX = 60  # the bottom margin above the legend: tick labels and the x-axis title
HALF_WIDTH_COLUMN_PX = 420  # a chart in one of two page columns, its plot at 1280 px
FULL_WIDTH_COLUMN_PX = 880  # a full-width chart's plot at 1280 px


def curves(
    x,
    series: Mapping[str, Sequence[float]],
    x_title: str,
    y_title: str,
    colors: dict[str, str] | None = None,
    threshold: float | None = None,
    threshold_label: str = "threshold",
    title: str | None = None,
    log_y: bool = False,
    stops: Mapping[str, tuple[int, str]] | None = None,
    legend_column_px: int = HALF_WIDTH_COLUMN_PX,
) -> go.Figure:
    """Lines over a step/parameter axis, one per model (series may have different lengths).

    More than :data:`SIDE_LEGEND_MAX` lines put the legend under the plot, its rows estimated for a column
    ``legend_column_px`` wide (:data:`HALF_WIDTH_COLUMN_PX`, or :data:`FULL_WIDTH_COLUMN_PX` for a chart that spans
    the page).

    stops : {model: (index into the model's series, hover text)} — a marked point (✕ in the model's colour) where
    the model stopped, e.g. PED's first step below the exit ratio; one legend entry "stopped here"."""
    colors = _colors(list(series), colors)
    fig = go.Figure()
    x = list(x)
    for m, y in series.items():
        y = np.asarray(y, dtype=float)
        fig.add_trace(go.Scatter(x=x[: y.size], y=y, mode="lines+markers", name=short_model_name(m),
                                 line=dict(color=colors[m], width=2.5),
                                 hovertemplate=f"{short_model_name(m)}<br>{x_title} %{{x}}<br>{y_title} %{{y:.4g}}"
                                               "<extra></extra>"))
    first = True
    for m, (index, text) in (stops or {}).items():
        y = np.asarray(series[m], dtype=float)
        if not 0 <= index < min(y.size, len(x)):
            continue
        fig.add_trace(go.Scatter(x=[x[index]], y=[y[index]], mode="markers", name="stopped here",
                                 legendgroup="stops", showlegend=first,
                                 marker=dict(symbol="x-thin", size=16, color=colors[m], line=dict(width=3,
                                                                                                color=colors[m])),
                                 hovertemplate=f"<b>{short_model_name(m)}</b><br>{text}<extra></extra>"))
        first = False
    if threshold is not None:
        fig.add_hline(y=threshold, line=dict(color="#555", dash="dash"), annotation_text=threshold_label,
                      annotation_position="top left")
    fig.update_xaxes(title=x_title)
    # a log axis reads 10⁻⁴, not plotly's SI "100µ" (eigenvalues are not lengths)
    fig.update_yaxes(title=y_title, type="log" if log_y else None, exponentformat="power" if log_y else None)
    fig = base_layout(fig, title, height=380)
    if len(series) > SIDE_LEGEND_MAX:
        marked = not first  # a "stopped here" entry was added to the legend
        _legend_below(fig, [short_model_name(m) for m in series] + (["stopped here"] if marked else []),
                      height=380, column_px=legend_column_px)
    return fig


def _legend_below(fig: go.Figure, names: Sequence[str], height: int, column_px: int = HALF_WIDTH_COLUMN_PX,
                  font_px: float = FONT["size"]) -> None:
    """A horizontal legend right under the x-axis title; the figure grows by its rows, estimated for a column
    ``column_px`` wide with every item as wide as the longest name. The estimate errs towards a spare row, which
    ends up as space at the bottom of the figure, never as a legend over the axis title."""
    item_px = text_px(max((len(n) for n in names), default=1), font_px) + 40  # text + the line's symbol + gap
    rows = -(-len(names) // max(1, int(column_px // item_px)))
    legend_px = rows * LEGEND_ROW_PX
    plot_px = height - int(fig.layout.margin.t or 0) - AXIS_BELOW_PX  # the figure grows by the legend only
    fig.update_layout(height=height + legend_px, margin=dict(b=AXIS_BELOW_PX + legend_px),
                      legend=dict(orientation="h", x=0, xanchor="left", yref="paper", yanchor="top",
                                  y=-LEGEND_BELOW_PLOT_PX / plot_px))


def histograms(
    values: Mapping[str, Sequence[float]],
    quantity: str,
    colors: dict[str, str] | None = None,
    nbins: int = 30,
    title: str | None = None,
) -> go.Figure:
    """Overlaid histograms of a per-sample quantity, one per model (shared bins)."""
    colors = _colors(list(values), colors)
    arrays = {m: np.asarray(v, dtype=float) for m, v in values.items()}
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays.values()]) if arrays else np.array([0.0])
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    size = (hi - lo) / nbins if hi > lo else 1.0
    fig = go.Figure([
        go.Histogram(x=a, name=short_model_name(m), marker_color=colors[m], opacity=0.6,
                     xbins=dict(start=lo, end=hi + size, size=size))
        for m, a in arrays.items()
    ])
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title=quantity)
    fig.update_yaxes(title="samples")
    return base_layout(fig, title or f"Distribution of {quantity}", height=360)


MAX_BOX_OUTLIERS = 150  # outlying samples drawn per box: each is an SVG point the browser styles and draws


def box_statistics(values) -> dict:
    """Tukey's box of ``values`` [n] as plotly draws it (linear quartiles; whiskers to the furthest samples
    within 1.5 IQR of the box): ``q1``, ``median``, ``q3``, ``lowerfence``, ``upperfence``, ``outliers`` (the
    samples beyond the whiskers, sorted) and ``n``. Non-finite values are dropped; NaN statistics when none is
    left."""
    a = np.asarray(values, dtype=float)
    a = np.sort(a[np.isfinite(a)])
    if not a.size:
        nan = float("nan")
        return {"q1": nan, "median": nan, "q3": nan, "lowerfence": nan, "upperfence": nan,
                "outliers": np.empty(0), "n": 0}
    q1, median, q3 = (float(v) for v in np.percentile(a, [25, 50, 75]))
    reach = 1.5 * (q3 - q1)
    inside = a[(a >= q1 - reach) & (a <= q3 + reach)]
    low, high = float(inside[0]), float(inside[-1])
    return {"q1": q1, "median": median, "q3": q3, "lowerfence": low, "upperfence": high,
            "outliers": a[(a < low) | (a > high)], "n": int(a.size)}


def distribution_boxes(
    values: Mapping[str, Sequence[float]],
    quantity: str,
    colors: dict[str, str] | None = None,
    title: str | None = None,
) -> go.Figure:
    """One horizontal box per model of a per-sample quantity (median, quartiles, whiskers to 1.5 IQR, outlying
    samples as points), models top to bottom in the given order: readable where overlaid histograms pile every
    model into one bin (values concentrated near one end with a long tail).

    The boxes carry their statistics (:func:`box_statistics`), not the samples, and each box draws at most
    :data:`MAX_BOX_OUTLIERS` of its outliers, evenly spread over their sorted values (the extremes included;
    the hover says how many there are), instead of every sample as raw data (12 models × 3,000 samples on the
    Fisher page)."""
    colors = _colors(list(values), colors)
    fig = go.Figure()
    for m in values:
        name, box = short_model_name(m), box_statistics(values[m])
        outliers = box["outliers"]
        shown = outliers
        if outliers.size > MAX_BOX_OUTLIERS:
            shown = outliers[np.unique(np.linspace(0, outliers.size - 1, MAX_BOX_OUTLIERS).round().astype(int))]
        summary = (f"<b>{name}</b><br>median {box['median']:.4g} · quartiles {box['q1']:.4g} – {box['q3']:.4g}"
                   f"<br>whiskers {box['lowerfence']:.4g} – {box['upperfence']:.4g}"
                   f"<br>{outliers.size:,} of {box['n']:,} samples beyond the whiskers")
        fig.add_trace(go.Box(y=[name], q1=[box["q1"]], median=[box["median"]], q3=[box["q3"]],
                             lowerfence=[box["lowerfence"]], upperfence=[box["upperfence"]], name=name,
                             orientation="h", marker_color=colors[m], showlegend=False, hoverinfo="text",
                             hovertext=summary))
        if shown.size:
            note = ("" if shown.size == outliers.size
                    else f"<br>(one in {outliers.size / shown.size:.3g} of the {outliers.size:,} outliers drawn)")
            fig.add_trace(go.Scatter(x=shown, y=[name] * shown.size, mode="markers", name=name, showlegend=False,
                                     marker=dict(size=3, opacity=0.5, color=colors[m]),
                                     hovertemplate=f"<b>{name}</b><br>{quantity} %{{x:.4g}}{note}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title=None)
    fig.update_xaxes(title=wrap_text(quantity, 28))  # beside model names the plot is ~200 px wide at 1280 px
    return base_layout(fig, title or f"Distribution of {quantity}", height=max(300, 42 * len(values) + 140))


def spectrum_plot(
    spectra: Mapping[str, Sequence[float]],
    colors: dict[str, str] | None = None,
    title: str = "Eigenvalue spectrum",
    y_title: str = "eigenvalue",
    top: int = 50,
) -> go.Figure:
    """The ``top`` largest eigenvalues of each model, sorted, on a log axis."""
    series = {}
    for m, s in spectra.items():
        s = np.sort(np.asarray(s, dtype=float))[::-1][:top]
        series[m] = np.where(s > 0, s, np.nan)
    width = max((len(s) for s in series.values()), default=0)
    return curves(range(1, width + 1), series, "index (largest first)", y_title, colors, title=title, log_y=True)
