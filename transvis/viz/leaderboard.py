"""Leaderboard figures: rank bump chart, metric agreement, correlations with ground truth, score scatter.

Inputs are the ranking's plain tables:

* ``scores`` — DataFrame [models × metrics], higher = more transferable, NaN where a metric was skipped.
* ``ranks`` — DataFrame [models × metrics], 1 = best, NaN where skipped.
* ``groundtruth`` — Series {model: accuracy} (optional).

Noise (:mod:`transvis.uncertainty`) is drawn wherever a ranking is: the bump chart shades the models a metric
cannot order beyond its noise (``tiers``) and rings float-noise ties, the correlation bars carry τ's interval
as error bars, the score scatter carries each score's and accuracy's interval, and :func:`noise_cells` /
:func:`styled_leaderboard` write every table cell as "score ± se" with its noise tier.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from transvis.metrics.correlation import weighted_tau

from ._style import GROUNDTRUTH_COLOR, base_layout, model_colors, short_model_name

GROUNDTRUTH_LABEL = "ground truth"
WITHIN_NOISE_LABEL = "within noise (cannot be ordered)"
TIED_LABEL = "tied (equal scores)"
DEGENERATE_LABEL = "degenerate score"
AXIS_ANCHOR = "right axis anchor"  # an invisible point that makes plotly draw the slope chart's right axis
TIER_FILL = "rgba(110, 110, 110, 0.2)"
TIER_SHADES = ("#e1ebfa", "#fbedd3", "#dcf1e2", "#eee3f6")  # table cells of successive multi-model noise tiers
DEGENERATE_SHADE = "#fbdada"


def groundtruth_ranks(groundtruth: pd.Series) -> pd.Series:
    """Rank of each model by its ground-truth accuracy (1 = most accurate; ties share the best rank)."""
    return groundtruth.rank(ascending=False, method="min")


def rank_bump_chart(
    ranks: pd.DataFrame,
    groundtruth: pd.Series | None = None,
    colors: dict[str, str] | None = None,
    title: str = "How each metric ranks the models",
    tiers: Mapping[str, Sequence[Sequence[str]]] | None = None,
    degenerate: Mapping[str, Mapping[str, str]] | None = None,
) -> go.Figure:
    """Bump chart: x = metrics (ground truth first when given), y = rank (1 on top), one line per model.

    A model whose line stays flat is ranked alike by every metric; crossings are disagreements. Metrics
    that scored no model are left out. Models sharing a rank (equal scores up to float noise) share a
    position, ringed and listed in the hover ("tied (equal scores)"). ``tiers`` ({column: [[models], ...]}, e.g.
    :meth:`RankingTable.noise_groups` per metric and the ground truth's binomial tiers under
    ``GROUNDTRUTH_LABEL``) shades, per column, the span of every tier of two or more models: the metric cannot
    order them beyond its noise ("within noise"). ``degenerate`` ({column: {model: reason}}) marks saturated
    scores with a cross.

    With exactly two columns (a before → after slope chart) each line is named where it ends, on a right axis
    ("#rank name", "#2–5 ≈ name" within a tier, tied models joined by "="), instead of in a legend of a dozen
    similar colours.
    """
    ranks = ranks.loc[:, ranks.notna().any()].copy()  # a metric that scored no model has no line to draw
    columns = list(ranks.columns)
    if groundtruth is not None and len(groundtruth):
        ranks.insert(0, GROUNDTRUTH_LABEL, groundtruth_ranks(groundtruth.reindex(ranks.index)))
        columns = [GROUNDTRUTH_LABEL, *columns]
    colors = colors or model_colors(ranks.index)
    tiers = {c: [list(g) for g in groups] for c, groups in (tiers or {}).items() if c in columns}
    degenerate = {c: dict(v) for c, v in (degenerate or {}).items() if c in columns}
    fig = go.Figure()
    _add_tier_bands(fig, ranks, columns, tiers)
    _add_tie_rings(fig, ranks, columns)
    within = {c: {m: [o for o in g if o != m] for g in groups if len(g) >= 2 for m in g} for c, groups in tiers.items()}
    for model in ranks.index:
        fig.add_trace(go.Scatter(
            x=columns, y=ranks.loc[model, columns].astype(float).to_numpy(), mode="lines+markers",
            name=short_model_name(model), line=dict(color=colors.get(model), width=3), marker=dict(size=11),
            connectgaps=False, hovertext=_bump_hover(model, ranks, columns, within, degenerate), hoverinfo="text",
        ))
    _add_degenerate_marks(fig, ranks, degenerate)
    n_models = len(ranks.index)
    fig.update_yaxes(autorange="reversed", dtick=1, title="rank (1 = best)", range=[n_models + 0.5, 0.5])
    if len(columns) == 2:
        _label_ends(fig, ranks, columns, tiers)
    # The bands and rings come first in the data: pin the columns' order to the metrics' (ground truth first).
    fig.update_xaxes(title=None, tickangle=-30, categoryorder="array", categoryarray=columns)
    if groundtruth is not None and len(groundtruth):
        fig.add_vline(x=0, line=dict(color=GROUNDTRUTH_COLOR, width=1, dash="dot"))
    return base_layout(fig, title, height=max(380, 40 * n_models + 180))


def _label_ends(fig: go.Figure, ranks: pd.DataFrame, columns: list[str], tiers: dict) -> None:
    """Name each rank's model(s) of the last column on a right axis, so that every line ends at its name: "#3
    name", "#2–5 ≈ name" inside a tier the noise cannot order (``tiers``), tied models joined by "="; the model
    lines leave the legend. (Names on both sides left a 400 px chart no room for the lines.)"""
    column = columns[-1]
    placed = ranks[column].dropna()
    span = {}  # model → (lowest, highest) rank of its tier of two or more
    for group in tiers.get(column, []):
        members = placed.reindex([m for m in group if m in placed.index]).dropna()
        if len(members) >= 2:
            span.update({m: (int(members.min()), int(members.max())) for m in members.index})
    values = sorted({float(r) for r in placed})
    text = []
    for rank in values:
        models = list(placed.index[placed == rank])
        names = " = ".join(short_model_name(m) for m in models)
        low, high = span.get(models[0], (int(rank), int(rank)))
        text.append(f"#{low}–{high} ≈ {names}" if high > low else f"#{int(rank)} {names}")
    for trace in model_traces(fig):
        trace.showlegend = False
    fig.update_layout(yaxis2=dict(overlaying="y", side="right", tickmode="array", tickvals=values, ticktext=text,
                                  matches="y", showgrid=False, automargin=True, tickfont=dict(size=11)))
    # an invisible point on the right axis, or plotly does not draw that axis
    fig.add_trace(go.Scatter(x=[column], y=[1.0], yaxis="y2", mode="markers", showlegend=False,
                             name=AXIS_ANCHOR, marker=dict(opacity=0), hoverinfo="skip"))
    fig.update_layout(legend=dict(orientation="h", x=0.0, xanchor="left", y=1.0, yanchor="bottom"),
                      margin=dict(r=10))


def _add_tier_bands(fig: go.Figure, ranks: pd.DataFrame, columns: list[str], tiers: dict) -> None:
    """A grey box per tier of two or more models spanning its ranks (layout shapes, drawn below the lines; on a
    category axis a shape's x is the column's index), and one marker per band in the data for the legend and
    the hover."""
    band_x, band_y, band_text, spans = [], [], [], []
    for index, column in enumerate(columns):
        for group in tiers.get(column, []):
            placed = ranks.loc[[m for m in group if m in ranks.index], column].dropna()
            if len(placed) < 2:
                continue
            low, high = float(placed.min()), float(placed.max())
            names = ", ".join(short_model_name(m) for m in placed.index)
            band_x.append(column)
            band_y.append((low + high) / 2)
            band_text.append(f"{column}: {names} cannot be ordered beyond noise (ranks {int(low)}–{int(high)})")
            spans.append((index, low, high))
    # one layout update: add_shape re-validates every shape added before it (quadratic in the bands)
    fig.update_layout(shapes=[*fig.layout.shapes, *(
        dict(type="rect", xref="x", yref="y", x0=index - 0.2, x1=index + 0.2, y0=low - 0.3, y1=high + 0.3,
             fillcolor=TIER_FILL, line=dict(width=0), layer="below") for index, low, high in spans)])
    if band_x:
        fig.add_trace(go.Scatter(
            x=band_x, y=band_y, mode="markers", name=WITHIN_NOISE_LABEL, hovertext=band_text, hoverinfo="text",
            # a dot for the hover at the band's centre; the legend draws it at full size (itemsizing)
            marker=dict(symbol="square", size=3, color="rgba(110, 110, 110, 0.45)"), legendrank=1,
        ))
        fig.update_layout(legend=dict(itemsizing="constant"))


def _add_tie_rings(fig: go.Figure, ranks: pd.DataFrame, columns: list[str]) -> None:
    """A ring where two or more models share a rank (equal scores up to float noise)."""
    tie_x, tie_y, tie_text = [], [], []
    for column in columns:
        for rank, members in ranks[column].dropna().groupby(ranks[column].dropna()):
            if len(members) >= 2:
                tie_x.append(column)
                tie_y.append(float(rank))
                tie_text.append(f"{column}: {', '.join(short_model_name(m) for m in members.index)} tie at rank "
                                f"{int(rank)} (equal scores)")
    if tie_x:
        fig.add_trace(go.Scatter(
            x=tie_x, y=tie_y, mode="markers", name=TIED_LABEL, hovertext=tie_text, hoverinfo="text",
            marker=dict(size=22, symbol="circle-open", color="#333", line=dict(width=2)), legendrank=2,
        ))


def _bump_hover(model: str, ranks: pd.DataFrame, columns: list[str], within: dict, degenerate: dict) -> list[str]:
    """One hover text per column of a model's line: its rank, ties, the models within its noise, degeneracy."""
    name = short_model_name(model)
    hover = []
    for column, rank in zip(columns, ranks.loc[model, columns].astype(float)):
        if not np.isfinite(rank):
            hover.append(f"<b>{name}</b><br>{column}: not scored")
            continue
        text = f"<b>{name}</b><br>{column}: rank {int(rank)}"
        tied = [o for o in ranks.index[ranks[column] == rank] if o != model]
        if tied:
            text += f" (tied with {', '.join(short_model_name(o) for o in tied)})"
        others = within.get(column, {}).get(model)
        if others:
            text += f"<br>within noise of {', '.join(short_model_name(o) for o in others)}"
        if model in degenerate.get(column, {}):
            text += f"<br>⚠ degenerate: {degenerate[column][model]}"
        hover.append(text)
    return hover


def _add_degenerate_marks(fig: go.Figure, ranks: pd.DataFrame, degenerate: dict) -> None:
    """A red cross on each degenerate (saturated) score, its reason in the hover."""
    deg_x, deg_y, deg_text = [], [], []
    for column, per_model in degenerate.items():
        for model, reason in per_model.items():
            if model in ranks.index and np.isfinite(ranks.at[model, column]):
                deg_x.append(column)
                deg_y.append(float(ranks.at[model, column]))
                deg_text.append(f"{short_model_name(model)} · {column}: {reason}")
    if deg_x:
        fig.add_trace(go.Scatter(
            x=deg_x, y=deg_y, mode="markers", name=DEGENERATE_LABEL, hovertext=deg_text, hoverinfo="text",
            marker=dict(size=15, symbol="x-thin", color="#b91c1c", line=dict(width=3, color="#b91c1c")),
        ))


def model_traces(fig: go.Figure) -> list:
    """The bump chart's one-line-per-model traces (without the tier bands, tie rings and degenerate marks)."""
    return [t for t in fig.data if t.name not in (WITHIN_NOISE_LABEL, TIED_LABEL, DEGENERATE_LABEL, AXIS_ANCHOR)]


def metric_agreement(scores: pd.DataFrame) -> pd.DataFrame:
    """Pairwise weighted Kendall's tau [metrics × metrics] between the metrics' model rankings.

    :func:`transvis.metrics.correlation.weighted_tau` (scipy's defaults: hyperbolic weights, symmetrised),
    the convention of the transferability literature; pairs with fewer than 3 models scored by both
    metrics, or a constant metric, get NaN.
    """
    metrics = list(scores.columns)
    out = pd.DataFrame(np.nan, index=metrics, columns=metrics)
    for i, a in enumerate(metrics):
        for b in metrics[i:]:
            both = scores[[a, b]].astype(float).dropna()
            if len(both) < 3:
                continue
            value = 1.0 if a == b else weighted_tau(both[a].to_numpy(), both[b].to_numpy())
            out.loc[a, b] = out.loc[b, a] = value
    return out


def metric_agreement_heatmap(agreement: pd.DataFrame, title: str = "Do the metrics agree? (weighted τ)") -> go.Figure:
    """Heat map of a symmetric [metrics × metrics] agreement matrix in [-1, 1] (red = opposite rankings)."""
    z = agreement.to_numpy(dtype=float)
    text = np.where(np.isnan(z), "–", np.vectorize(lambda v: f"{v:.2f}")(np.nan_to_num(z)))
    fig = go.Figure(go.Heatmap(
        z=z, x=list(agreement.columns), y=list(agreement.index), zmin=-1, zmax=1, colorscale="RdBu",
        text=text, texttemplate="%{text}", textfont=dict(size=11),
        colorbar=dict(title="τ_w", thickness=12),
        hovertemplate="%{y} vs %{x}<br>weighted τ = %{z:.3f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    fig.update_xaxes(tickangle=-40)
    size = max(380, 34 * len(agreement) + 160)
    return base_layout(fig, title, height=size)


def correlation_bars(
    correlations: pd.DataFrame,
    stat: str = "weighted_tau",
    title: str | None = None,
    intervals: Mapping[str, tuple[float, float]] | None = None,
) -> go.Figure:
    """Horizontal bars of one correlation statistic per metric (rows = metrics), best on top.

    Positive (the metric ranks like the ground truth) in blue, negative in red. ``intervals``
    ({row: (low, high)}, e.g. weighted τ's from :attr:`RankingTable.tau_intervals`) draws each interval as an
    error bar and writes "+0.80 [+0.10, +0.95]" beside the chart; rows without one get no error bar.
    """
    if stat not in correlations.columns:
        raise ValueError(f"no correlation column {stat!r}; available: {', '.join(correlations.columns)}.")
    values = correlations[stat].astype(float).dropna().sort_values()
    colors = ["#2b6cb0" if v >= 0 else "#c53030" for v in values]
    label = stat.replace("_", " ")
    intervals = {k: v for k, v in (intervals or {}).items()
                 if k in values.index and all(math.isfinite(float(x)) for x in v)}
    if intervals:
        low = np.array([intervals[k][0] if k in intervals else v for k, v in values.items()], dtype=float)
        high = np.array([intervals[k][1] if k in intervals else v for k, v in values.items()], dtype=float)
        texts = [f"{v:+.2f} [{intervals[k][0]:+.2f}, {intervals[k][1]:+.2f}]" if k in intervals else f"{v:+.2f}"
                 for k, v in values.items()]
        fig = go.Figure(go.Bar(
            x=values.to_numpy(), y=list(values.index), orientation="h", marker_color=colors,
            error_x=dict(type="data", symmetric=False, array=np.maximum(high - values.to_numpy(), 0.0),
                         arrayminus=np.maximum(values.to_numpy() - low, 0.0), color="#333", thickness=1.5,
                         width=5),
            customdata=texts, hovertemplate="%{y}: " + label + " = %{customdata}<extra></extra>",
        ))
        for name, text in zip(values.index, texts):
            fig.add_annotation(x=1.0, xref="paper", xanchor="left", xshift=8, y=name, yref="y", text=text,
                               showarrow=False, font=dict(size=12, color="#333"), align="left")
        lo = min(-0.1, float(np.nanmin(low)) - 0.05)
        hi = max(0.1, float(np.nanmax(high)) + 0.05)
        fig.update_xaxes(range=[max(-1.05, lo), min(1.05, hi)], zeroline=True, zerolinecolor="#888",
                         title=f"{label} with ground truth (whisker: interval)")
        title = title or f"Which metric predicts the ground truth best? ({label})"
        fig = base_layout(fig, title, height=max(300, 30 * len(values) + 150))
        fig.update_layout(margin=dict(r=170))
        return fig
    fig = go.Figure(go.Bar(
        x=values.to_numpy(), y=list(values.index), orientation="h", marker_color=colors,
        text=[f"{v:+.2f}" for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: " + label + " = %{x:.3f}<extra></extra>",
    ))
    lo = min(-0.1, float(values.min()) - 0.15) if len(values) else -1
    hi = max(0.1, float(values.max()) + 0.15) if len(values) else 1
    fig.update_xaxes(range=[max(-1.15, lo), min(1.15, hi)], zeroline=True, zerolinecolor="#888",
                     title=label + " with ground truth")
    title = title or f"Which metric predicts the ground truth best? ({label})"
    return base_layout(fig, title, height=max(300, 28 * len(values) + 140))


def score_vs_groundtruth(
    scores: pd.Series,
    groundtruth: pd.Series,
    colors: dict[str, str] | None = None,
    metric_label: str | None = None,
    score_halfwidth: pd.Series | None = None,
    accuracy_halfwidth: pd.Series | None = None,
    tau_text: str | None = None,
) -> go.Figure:
    """Scatter of one metric's score (x) against ground-truth accuracy (y), one labelled point per model.

    The title carries the weighted Kendall's tau over the models that have both values (``tau_text``, e.g.
    :meth:`RankingTable.tau_text` with its interval, replaces the bare value). ``score_halfwidth`` and
    ``accuracy_halfwidth`` ({model: half-width of the interval}) draw each score's and accuracy's interval as
    error bars.
    """
    both = pd.concat({"score": scores.astype(float), "acc": groundtruth.astype(float)}, axis=1).dropna()
    colors = colors or model_colors(both.index)
    label = metric_label or str(scores.name or "score")
    tau = weighted_tau(both["score"].to_numpy(), both["acc"].to_numpy()) if len(both) >= 3 else float("nan")
    names = [short_model_name(m) for m in both.index]

    def error(halfwidth):
        if halfwidth is None:
            return None
        values = pd.Series(halfwidth, dtype=float).reindex(both.index)
        if not values.notna().any():
            return None
        return dict(type="data", array=values.fillna(0.0).to_numpy(), color="#777", thickness=1.2, width=4)

    fig = go.Figure(go.Scatter(
        x=both["score"].to_numpy(), y=both["acc"].to_numpy(), mode="markers+text", text=names,
        textposition="top center", marker=dict(size=14, color=[colors.get(m, "#555") for m in both.index],
                                               line=dict(color="white", width=1)),
        error_x=error(score_halfwidth), error_y=error(accuracy_halfwidth),
        hovertemplate="<b>%{text}</b><br>" + label + " = %{x:.4g}<br>accuracy = %{y:.4f}<extra></extra>",
    ))
    fig.update_xaxes(title=label)
    fig.update_yaxes(title="ground-truth accuracy")
    if tau_text is None:
        tau_text = "n/a (fewer than 3 models)" if np.isnan(tau) else f"{tau:+.3f}"
    return base_layout(fig, f"{label} against ground truth — weighted τ = {tau_text}", height=440)


def display_table(
    scores: pd.DataFrame,
    ranks: pd.DataFrame,
    groundtruth: pd.Series | None = None,
    show: str = "scores",
) -> pd.DataFrame:
    """The leaderboard table for display: one row per model (short names), ground truth first.

    ``show`` is ``"scores"`` or ``"ranks"``; rows are ordered by mean rank across metrics (best first) and
    a ``mean rank`` column is added.
    """
    if show not in ("scores", "ranks"):
        raise ValueError("show must be 'scores' or 'ranks'.")
    body = (scores if show == "scores" else ranks).astype(float).copy()
    mean_rank = ranks.astype(float).mean(axis=1)
    table = pd.DataFrame(index=body.index)
    if groundtruth is not None and len(groundtruth):
        gt = groundtruth.reindex(body.index).astype(float)
        table[GROUNDTRUTH_LABEL if show == "scores" else "ground-truth rank"] = (
            gt if show == "scores" else groundtruth_ranks(gt)
        )
    table["mean rank"] = mean_rank
    table = pd.concat([table, body], axis=1)
    table = table.loc[mean_rank.sort_values(kind="stable").index]
    table.index = [short_model_name(m) for m in table.index]
    table.index.name = "model"
    return table


@dataclass
class LeaderboardCells:
    """The leaderboard table with its noise, ready to style.

    values : numeric table as :func:`display_table` gives it (rows by mean rank, short model names);
    text : the same cells as shown ("0.312 ± 0.008 ≈1", "2 (1–3) ≈1", "⚠" on degenerate scores);
    tier : the cell's noise tier (1 = best) where two or more models share it, else 0;
    degenerate : True where the score is flagged degenerate;
    noted : {column: note for its header tooltip} (what its ± and ≈ mean, or "noise not estimated").
    """

    values: pd.DataFrame
    text: pd.DataFrame
    tier: pd.DataFrame
    degenerate: pd.DataFrame
    noted: dict[str, str]


def noise_cells(
    table,
    show: str = "scores",
    groundtruth: pd.Series | None = None,
    groundtruth_n: Mapping[str, int] | None = None,
    metrics: Sequence[str] | None = None,
) -> LeaderboardCells:
    """Every cell of the leaderboard with its noise (``table`` a :class:`transvis.ranking.RankingTable`).

    Scores read "score ± se" (standard error from the stratified jackknife; accuracies ± their binomial se
    when the test sizes are known), ranks "rank (best–worst)" where the noise allows a range of ranks
    (:func:`transvis.headline.rank_range`). "≈k" marks the k-th noise tier of the column when two or more
    models share it (:meth:`RankingTable.noise_groups`; for the ground truth,
    :func:`transvis.headline.groundtruth_tiers`), "⚠" a degenerate score.
    """
    from transvis.headline import (
        accuracy_fraction,
        binomial_se,
        degenerate_scores,
        groundtruth_tiers,
        rank_range,
        score_text,
        tier_index,
    )

    metrics = list(metrics if metrics is not None else table.metrics)
    scores, ranks = table.scores[metrics], table.ranks[metrics]
    values = display_table(scores, ranks, groundtruth, show=show)
    short = {short_model_name(m): m for m in table.models}
    se = table.score_se
    flagged = degenerate_scores(table)
    text = pd.DataFrame("", index=values.index, columns=values.columns, dtype=object)
    tier = pd.DataFrame(0, index=values.index, columns=values.columns, dtype=int)
    degenerate = pd.DataFrame(False, index=values.index, columns=values.columns, dtype=bool)
    noted: dict[str, str] = {}

    def mark(cell: str, where: tuple[int, int] | None) -> str:
        return f"{cell} ≈{where[0]}" if where and where[1] >= 2 else cell

    for column in values.columns:
        if column == "mean rank":
            text[column] = [f"{v:.2f}" if math.isfinite(v) else "–" for v in values[column]]
            continue
        if column in (GROUNDTRUTH_LABEL, "ground-truth rank"):
            gt = groundtruth.astype(float)
            fractions = accuracy_fraction(gt.to_dict())
            scale = 100.0 if gt.max() > 1.0 else 1.0
            tiers = tier_index(groundtruth_tiers(gt.to_dict(), groundtruth_n))
            for row in values.index:
                model = short[row]
                if model not in fractions:
                    text.at[row, column] = "–"
                    continue
                n = (groundtruth_n or {}).get(model)
                if show == "scores":
                    cell = score_text(gt[model], binomial_se(fractions[model], n) * scale)
                else:
                    cell = f"{int(values.at[row, column])}"
                text.at[row, column] = mark(cell, tiers.get(model))
                if tiers.get(model, (0, 1))[1] >= 2:
                    tier.at[row, column] = tiers[model][0]
            noted[column] = ("accuracy ± its binomial standard error on the test set; ≈k: the test set cannot "
                             "order the models sharing k" if groundtruth_n else
                             "test-set sizes unknown: the accuracies' own noise is not shown")
            continue
        tiers = tier_index(table.noise_groups(column))
        has_noise = column in table.noise
        for row in values.index:
            model = short[row]
            value = values.at[row, column]
            if not math.isfinite(float(value)):
                text.at[row, column] = "–"
                continue
            if show == "scores":
                cell = score_text(value, se.at[model, column] if has_noise else None)
            else:
                cell = f"{int(value)}"
                span = rank_range(table, column, model)
                if span is not None and span[0] != span[1]:
                    cell += f" ({span[0]}–{span[1]})"
            reason = flagged.get(column, {}).get(model)
            if reason:
                cell = f"⚠ {cell}"
                degenerate.at[row, column] = True
            text.at[row, column] = mark(cell, tiers.get(model))
            if tiers.get(model, (0, 1))[1] >= 2:
                tier.at[row, column] = tiers[model][0]
        if has_noise:
            level = table.noise[column].resampling.level
            noted[column] = (("score ± standard error" if show == "scores" else "rank (range of ranks the noise "
                              "allows)") + f"; ≈k: models sharing k cannot be ordered beyond noise ({level:.0%})")
        else:
            noted[column] = "noise not estimated for this metric (scored once); ≈k marks equal scores"
    return LeaderboardCells(values=values, text=text, tier=tier, degenerate=degenerate, noted=noted)


def styled_leaderboard(cells: LeaderboardCells):
    """A pandas Styler of :func:`noise_cells`: the numbers stay sortable, each cell shows its text, models that
    share a noise tier are shaded alike (successive tiers in successive tints) and degenerate scores in red."""
    styler = cells.values.style
    for column in cells.values.columns:
        for row in cells.values.index:
            styler = styler.format(lambda _, shown=cells.text.at[row, column]: shown,
                                   subset=pd.IndexSlice[[row], [column]])

    def shade(_frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame("", index=cells.values.index, columns=cells.values.columns)
        for column in cells.values.columns:
            for row in cells.values.index:
                if cells.degenerate.at[row, column]:
                    out.at[row, column] = f"background-color: {DEGENERATE_SHADE}"
                elif cells.tier.at[row, column]:
                    shade_of = TIER_SHADES[(cells.tier.at[row, column] - 1) % len(TIER_SHADES)]
                    out.at[row, column] = f"background-color: {shade_of}"
        return out

    return styler.apply(shade, axis=None)


def score_intervals_table(table, metric_label: Callable[[str], str] = str,
                          groundtruth_n: Mapping[str, int] | None = None) -> pd.DataFrame:
    """One row per (metric, model) score: score, standard error, interval (at the noise's level), the ranks the
    noise allows, its noise tier and the tier's size, and a degenerate-score note. Ground-truth accuracies are
    added (rows of metric "ground truth") with their binomial se when ``table.groundtruth`` is set."""
    from transvis.headline import (
        accuracy_fraction,
        binomial_se,
        degenerate_scores,
        groundtruth_tiers,
        rank_range,
        tier_index,
    )

    rows = []
    flagged = degenerate_scores(table)
    se = table.score_se
    if table.groundtruth:
        fractions = accuracy_fraction(table.groundtruth)
        n_test = groundtruth_n if groundtruth_n is not None else table.groundtruth_n
        tiers = tier_index(groundtruth_tiers(table.groundtruth, n_test))
        for model in table.models:
            if model not in fractions:
                continue
            n = (n_test or {}).get(model)
            s = binomial_se(fractions[model], n) * (100.0 if max(table.groundtruth.values()) > 1 else 1.0)
            acc = float(table.groundtruth[model])
            rows.append({"metric": GROUNDTRUTH_LABEL, "model": short_model_name(model), "score": acc, "se": s,
                         "low": acc - 1.96 * s, "high": acc + 1.96 * s, "ranks": "",
                         "tier": tiers.get(model, (math.nan, 0))[0], "tier size": tiers.get(model, (0, 0))[1],
                         "n test": n, "note": ""})
    for metric in table.metrics:
        tiers = tier_index(table.noise_groups(metric))
        for model in table.models:
            score = float(table.scores.at[model, metric])
            if not math.isfinite(score):
                continue
            low, high = table.interval(metric, model)
            span = rank_range(table, metric, model)
            ranks = "" if span is None else (f"{span[0]}" if span[0] == span[1] else f"{span[0]}–{span[1]}")
            note = flagged.get(metric, {}).get(model, "")
            if metric not in table.noise:
                note = "; ".join(x for x in ("noise not estimated", note) if x)
            rows.append({"metric": metric_label(metric), "model": short_model_name(model), "score": score,
                         "se": float(se.at[model, metric]), "low": low, "high": high, "ranks": ranks,
                         "tier": tiers.get(model, (math.nan, 0))[0], "tier size": tiers.get(model, (0, 0))[1],
                         "n test": None, "note": note})
    return pd.DataFrame(rows, columns=["metric", "model", "score", "se", "low", "high", "ranks", "tier",
                                       "tier size", "n test", "note"])
