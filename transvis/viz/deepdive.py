"""Model deep-dive: per-class contributions to the scores, and the hardest samples.

Per-class quantities are read from the metrics' traces (names as documented in each metric module):

==============  ===================  ============================================================
metric          trace key            meaning (per class c)
==============  ===================  ============================================================
sfda            class_posterior      mean true-class posterior after ConfMix (π-weighted sum = score)
ncm_softmax     class_posterior      mean true-class posterior of the nearest-class-mean softmax
logme           evidence             LogME evidence of the one-vs-rest target of class c (mean = score)
nc              nc1_per_class        class c's share of NC1 (lower = more collapsed)
face            class_collapse       FaCe's per-class collapse term
==============  ===================  ============================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ._style import base_layout, short_model_name

PER_CLASS = {
    "sfda": ("class_posterior", "SFDA posterior ↑"),
    "ncm_softmax": ("class_posterior", "NCM posterior ↑"),
    "logme": ("evidence", "LogME evidence ↑"),
    "nc": ("nc1_per_class", "NC1 share ↓"),
    "face": ("class_collapse", "FaCe collapse ↑"),
}


def rank_table(table, models: Sequence[str], metric_label=str) -> pd.DataFrame:
    """Where each of ``models`` ranks on every metric that scored one of them, as text: "2 of 7", "1 of 2
    (tied)" for equal scores, "1–3 of 7 (within noise)" where the scores' noise allows a range of ranks
    (:func:`transvis.headline.rank_text`), and each score with its standard error ("0.312 ± 0.008"; "⚠" marks a
    degenerate score). ``table`` is a :class:`transvis.ranking.RankingTable`; rows are metric labels."""
    from transvis.headline import degenerate_scores, rank_text, score_text

    models = list(models)
    scored = [m for m in table.metrics if table.scores.loc[models, m].notna().any()]
    se = table.score_se
    flagged = degenerate_scores(table)
    columns: dict[str, list[str]] = {}
    for model in models:
        columns[f"rank of {short_model_name(model)}"] = [rank_text(table, metric, model) for metric in scored]
    for model in models:
        cells = []
        for metric in scored:
            text = score_text(table.scores.at[model, metric],
                              se.at[model, metric] if metric in table.noise else None)
            if metric not in table.noise and text != "–":
                text += " (noise not estimated)"
            if model in flagged.get(metric, {}):
                text = f"⚠ {text}"
            cells.append(text)
        columns[f"{short_model_name(model)} score"] = cells
    return pd.DataFrame(columns, index=pd.Index([metric_label(m) for m in scored], name="metric"))


def per_class_table(results: Mapping[str, object], class_names: Sequence[str]) -> pd.DataFrame:
    """[classes × metrics] per-class quantities from ``{metric: MetricResult}`` (metrics without a per-class
    trace are skipped; columns are labelled with their direction, ↑ = higher is better)."""
    columns = {}
    for metric, (key, label) in PER_CLASS.items():
        result = results.get(metric)
        if result is None:
            continue
        values = result.trace.get(key)
        if values is None or np.asarray(values).shape != (len(class_names),):
            continue
        columns[label] = np.asarray(values, dtype=float)
    return pd.DataFrame(columns, index=list(class_names))


def per_class_heatmap(table: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Heat map of a [classes × metrics] table; colour = rank within each column (green = the class that
    helps the score most, red = the one that hurts it), text = the raw value."""
    if table.empty:
        raise ValueError("no per-class quantities to show; score the model with SFDA, LogME, NC or FaCe.")
    goodness = pd.DataFrame(index=table.index)
    for column in table.columns:
        higher_better = "↓" not in column
        goodness[column] = table[column].rank(ascending=higher_better, pct=True)
    fig = go.Figure(go.Heatmap(
        z=goodness.to_numpy(), x=list(table.columns), y=list(table.index), zmin=0, zmax=1, colorscale="RdYlGn",
        text=table.to_numpy(), texttemplate="%{text:.3g}", showscale=False,
        hovertemplate="%{y} · %{x}<br>value %{text:.4g}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, title or "Which classes help or hurt each score", height=max(360, 30 * len(table) + 140))


def hardest_samples(true_class_posterior, k: int = 24, labels=None, only_class: int | None = None) -> np.ndarray:
    """Indices of the ``k`` samples with the lowest true-class posterior (hardest first), optionally
    restricted to samples of ``only_class``."""
    scores = np.asarray(true_class_posterior, dtype=float)
    candidates = np.arange(scores.size)
    if only_class is not None:
        if labels is None:
            raise ValueError("pass labels to restrict the hardest samples to one class.")
        candidates = candidates[np.asarray(labels) == only_class]
    order = candidates[np.argsort(scores[candidates], kind="stable")]
    return order[:k]
