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

from ._style import base_layout

PER_CLASS = {
    "sfda": ("class_posterior", "SFDA posterior ↑"),
    "ncm_softmax": ("class_posterior", "NCM posterior ↑"),
    "logme": ("evidence", "LogME evidence ↑"),
    "nc": ("nc1_per_class", "NC1 share ↓"),
    "face": ("class_collapse", "FaCe collapse ↑"),
}


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
