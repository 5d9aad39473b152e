"""Leaderboard figures: rank bump chart, metric agreement, correlations with ground truth, score scatter.

Inputs are the ranking's plain tables:

* ``scores`` — DataFrame [models × metrics], higher = more transferable, NaN where a metric was skipped.
* ``ranks`` — DataFrame [models × metrics], 1 = best, NaN where skipped.
* ``groundtruth`` — Series {model: accuracy} (optional).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from transvis.metrics.correlation import weighted_tau

from ._style import GROUNDTRUTH_COLOR, base_layout, model_colors, short_model_name

GROUNDTRUTH_LABEL = "ground truth"


def groundtruth_ranks(groundtruth: pd.Series) -> pd.Series:
    """Rank of each model by its ground-truth accuracy (1 = most accurate; ties share the best rank)."""
    return groundtruth.rank(ascending=False, method="min")


def rank_bump_chart(
    ranks: pd.DataFrame,
    groundtruth: pd.Series | None = None,
    colors: dict[str, str] | None = None,
    title: str = "How each metric ranks the models",
) -> go.Figure:
    """Bump chart: x = metrics (ground truth first when given), y = rank (1 on top), one line per model.

    A model whose line stays flat is ranked alike by every metric; crossings are disagreements. Metrics
    that scored no model are left out.
    """
    ranks = ranks.loc[:, ranks.notna().any()].copy()  # a metric that scored no model has no line to draw
    columns = list(ranks.columns)
    if groundtruth is not None and len(groundtruth):
        ranks.insert(0, GROUNDTRUTH_LABEL, groundtruth_ranks(groundtruth.reindex(ranks.index)))
        columns = [GROUNDTRUTH_LABEL, *columns]
    colors = colors or model_colors(ranks.index)
    fig = go.Figure()
    for model in ranks.index:
        row = ranks.loc[model, columns].astype(float)
        name = short_model_name(model)
        fig.add_trace(go.Scatter(
            x=columns, y=row.to_numpy(), mode="lines+markers", name=name,
            line=dict(color=colors.get(model), width=3), marker=dict(size=11),
            connectgaps=False, customdata=np.full(len(columns), name),
            hovertemplate="<b>%{customdata}</b><br>%{x}: rank %{y}<extra></extra>",
        ))
    n_models = len(ranks.index)
    fig.update_yaxes(autorange="reversed", dtick=1, title="rank (1 = best)", range=[n_models + 0.5, 0.5])
    fig.update_xaxes(title=None, tickangle=-30)
    if groundtruth is not None and len(groundtruth):
        fig.add_vline(x=0, line=dict(color=GROUNDTRUTH_COLOR, width=1, dash="dot"))
    return base_layout(fig, title, height=max(360, 40 * n_models + 160))


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
) -> go.Figure:
    """Horizontal bars of one correlation statistic per metric (rows = metrics), best on top.

    Positive (the metric ranks like the ground truth) in blue, negative in red.
    """
    if stat not in correlations.columns:
        raise ValueError(f"no correlation column {stat!r}; available: {', '.join(correlations.columns)}.")
    values = correlations[stat].astype(float).dropna().sort_values()
    colors = ["#2b6cb0" if v >= 0 else "#c53030" for v in values]
    fig = go.Figure(go.Bar(
        x=values.to_numpy(), y=list(values.index), orientation="h", marker_color=colors,
        text=[f"{v:+.2f}" for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: " + stat.replace("_", " ") + " = %{x:.3f}<extra></extra>",
    ))
    lo = min(-0.1, float(values.min()) - 0.15) if len(values) else -1
    hi = max(0.1, float(values.max()) + 0.15) if len(values) else 1
    fig.update_xaxes(range=[max(-1.15, lo), min(1.15, hi)], zeroline=True, zerolinecolor="#888",
                     title=stat.replace("_", " ") + " with ground truth")
    title = title or f"Which metric predicts the ground truth best? ({stat.replace('_', ' ')})"
    return base_layout(fig, title, height=max(300, 28 * len(values) + 140))


def score_vs_groundtruth(
    scores: pd.Series,
    groundtruth: pd.Series,
    colors: dict[str, str] | None = None,
    metric_label: str | None = None,
) -> go.Figure:
    """Scatter of one metric's score (x) against ground-truth accuracy (y), one labelled point per model.

    The title carries the weighted Kendall's tau over the models that have both values.
    """
    both = pd.concat({"score": scores.astype(float), "acc": groundtruth.astype(float)}, axis=1).dropna()
    colors = colors or model_colors(both.index)
    label = metric_label or str(scores.name or "score")
    tau = weighted_tau(both["score"].to_numpy(), both["acc"].to_numpy()) if len(both) >= 3 else float("nan")
    names = [short_model_name(m) for m in both.index]
    fig = go.Figure(go.Scatter(
        x=both["score"].to_numpy(), y=both["acc"].to_numpy(), mode="markers+text", text=names,
        textposition="top center", marker=dict(size=14, color=[colors.get(m, "#555") for m in both.index],
                                               line=dict(color="white", width=1)),
        hovertemplate="<b>%{text}</b><br>" + label + " = %{x:.4g}<br>accuracy = %{y:.4f}<extra></extra>",
    ))
    fig.update_xaxes(title=label)
    fig.update_yaxes(title="ground-truth accuracy")
    tau_text = "n/a (fewer than 3 models)" if np.isnan(tau) else f"{tau:+.3f}"
    return base_layout(fig, f"{label} against ground truth — weighted τ = {tau_text}", height=420)


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
