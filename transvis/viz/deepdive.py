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

import math
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


GROUNDTRUTH_ROW = "ground truth"  # the rank table's first row label starts with this
TAU_COLUMN = "weighted τ with ground truth"


def rank_table(table, models: Sequence[str], metric_label=str, groundtruth_label: str | None = None) -> pd.DataFrame:
    """Where each of ``models`` ranks on every metric that scored one of them, as text: "2 of 7", "1 of 2
    (tied)" for equal scores, "1–3 of 7 (within noise)" where the scores' noise allows a range of ranks
    (:func:`transvis.headline.rank_text`), and each score with its standard error ("0.312 ± 0.008"; "⚠" marks a
    degenerate score). ``table`` is a :class:`transvis.ranking.RankingTable`; rows are metric labels, ordered by
    how well each metric agrees with the ground truth (weighted τ, highest first; metrics without τ last), after
    a first row for the ground truth itself (accuracy in % ± its binomial standard error where the test size is
    known, rank within that noise) when the table has one; the last column is each metric's τ with its interval."""
    from transvis.explain import groundtruth_rank, metrics_by_tau
    from transvis.headline import accuracy_fraction, binomial_se, degenerate_scores, rank_text, score_text

    models = list(models)
    scored = [m for m in metrics_by_tau(table) if table.scores.loc[models, m].notna().any()]
    se = table.score_se
    flagged = degenerate_scores(table)
    gt = accuracy_fraction(table.groundtruth) if table.groundtruth else {}
    gt_row = bool(gt) and any(m in gt for m in models)
    gt_name = f"{GROUNDTRUTH_ROW}: {groundtruth_label}" if groundtruth_label else GROUNDTRUTH_ROW
    rows = [f"{gt_name} (accuracy %)"] if gt_row else []
    rows += [metric_label(m) for m in scored]
    columns: dict[str, list[str]] = {}
    for model in models:
        cells = []
        if gt_row:
            span = groundtruth_rank(gt, table.groundtruth_n, model)
            cells.append("–" if span is None else _span_text(*span))
        columns[f"rank of {short_model_name(model)}"] = cells + [rank_text(table, metric, model) for metric in scored]
    for model in models:
        cells = []
        if gt_row:
            n_test = (table.groundtruth_n or {}).get(model)
            acc = gt.get(model, math.nan)
            cells.append(score_text(100 * acc, 100 * binomial_se(acc, n_test)))
        for metric in scored:
            text = score_text(table.scores.at[model, metric],
                              se.at[model, metric] if metric in table.noise else None)
            if metric not in table.noise and text != "–":
                text += " (noise not estimated)"
            if model in flagged.get(metric, {}):
                text = f"⚠ {text}"
            cells.append(text)
        columns[f"{short_model_name(model)} score"] = cells
    if table.groundtruth:
        columns[TAU_COLUMN] = (["(the reference)"] if gt_row else []) + [table.tau_text(m) for m in scored]
    return pd.DataFrame(columns, index=pd.Index(rows, name="metric"))


def _span_text(best: int, worst: int, n: int) -> str:
    return f"{best} of {n}" if best == worst else f"{best}–{worst} of {n} (within noise)"


def table_height(rows: int, row_px: int = 35) -> int:
    """Pixels for a Streamlit dataframe that shows ``rows`` rows and its header without scrolling."""
    return (rows + 1) * row_px + 3


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


HEAT_COLORSCALE = "RdYlGn"
COLORBAR_MARGIN = 130  # px right of every per-class heat map, so panels with and without the colour bar align


def shared_ranges(tables: Sequence[pd.DataFrame]) -> dict[str, tuple[float, float]]:
    """``{column: (lowest, highest)}`` over every table that has the column: one colour scale for several
    models' per-class tables, so a value gets the same colour in each."""
    ranges: dict[str, tuple[float, float]] = {}
    for table in tables:
        for column in table.columns:
            values = np.asarray(table[column], dtype=float)
            values = values[np.isfinite(values)]
            if not values.size:
                continue
            lo, hi = ranges.get(column, (math.inf, -math.inf))
            ranges[column] = (min(lo, float(values.min())), max(hi, float(values.max())))
    return ranges


def per_class_heatmap(table: pd.DataFrame, title: str | None = None, *,
                      ranges: Mapping[str, tuple[float, float]] | None = None, colorbar: bool = True) -> go.Figure:
    """Heat map of a [classes × metrics] table; text = the raw value, colour = where the value sits in its
    column's range (0 = the worst value, 1 = the best, by the column's direction: ↓ = lower is better).
    ``ranges`` ({column: (lowest, highest)}, :func:`shared_ranges`) puts several models' tables on ONE scale
    (default: this table's own range); ``colorbar=False`` leaves the colour bar to a sibling figure."""
    if table.empty:
        raise ValueError("no per-class quantities to show; score the model with SFDA, LogME, NC or FaCe.")
    ranges = dict(ranges) if ranges is not None else shared_ranges([table])
    goodness = pd.DataFrame(index=table.index)
    for column in table.columns:
        lo, hi = ranges.get(column, (float(table[column].min()), float(table[column].max())))
        values = table[column].to_numpy(dtype=float)
        position = (values - lo) / (hi - lo) if hi > lo else np.full(values.shape, 0.5)
        goodness[column] = position if "↓" not in column else 1.0 - position
    fig = go.Figure(go.Heatmap(
        z=goodness.to_numpy(), x=list(table.columns), y=list(table.index), zmin=0, zmax=1,
        colorscale=HEAT_COLORSCALE, text=table.to_numpy(), texttemplate="%{text:.3g}", showscale=colorbar,
        colorbar=dict(title=dict(text="within each<br>column", side="top"), tickvals=[0, 0.5, 1],
                      ticktext=["worst", "middle", "best"], thickness=14, len=0.8, x=1.02, xanchor="left"),
        hovertemplate="%{y} · %{x}<br>value %{text:.4g}<br>position in the column's range %{z:.2f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig = base_layout(fig, title or "Which classes help or hurt each score", height=max(360, 30 * len(table) + 140))
    fig.update_layout(margin=dict(r=COLORBAR_MARGIN))
    return fig


def per_class_heatmaps(tables: Mapping[str, pd.DataFrame]) -> list[go.Figure]:
    """One heat map per ``{title: [classes × metrics] table}`` on one shared colour scale (equal ranges, equal
    zmin/zmax) with ONE colour bar, on the last figure; the others keep its margin so the panels align."""
    ranges = shared_ranges(list(tables.values()))
    titles = list(tables)
    return [per_class_heatmap(tables[t], title=t, ranges=ranges, colorbar=i == len(titles) - 1)
            for i, t in enumerate(titles)]


def contribution_heatmap(explanation, metric_label=str, model_labels: tuple[str, str] = ("A", "B"),
                         top: int | None = None) -> go.Figure:
    """[classes × metrics] each class's share of the metric's per-class difference score(A) − score(B)
    (:class:`transvis.explain.PairExplanation`): one diverging colour scale for every metric, symmetric around
    0 (blue favours A, red favours B) with one colour bar; text = the contribution in the metric's score
    units. Rows: the classes in the explanation's order (those carrying the leader's lead first), ``top`` at
    most; columns: the metrics that split by class."""
    terms = explanation.terms
    if not terms:
        raise ValueError("no metric of this ranking splits by class; add SFDA, LogME, NC, GBC or FaCe.")
    classes = list(explanation.classes.index) or list(explanation.class_names)
    if top is not None:
        classes = classes[:top]
    rows = [explanation.class_names.index(c) for c in classes]
    metrics = list(terms)
    shares = np.array([[terms[m].shares[r] for m in metrics] for r in rows])
    contributions = np.array([[terms[m].contributions[r] for m in metrics] for r in rows])
    values_a = np.array([[terms[m].terms_a[r] for m in metrics] for r in rows])
    values_b = np.array([[terms[m].terms_b[r] for m in metrics] for r in rows])
    what = np.array([[terms[m].term for m in metrics] for _ in rows])
    bound = float(np.abs(shares).max()) or 1.0
    a, b = model_labels
    fig = go.Figure(go.Heatmap(
        z=shares, x=[metric_label(m) for m in metrics], y=classes, zmin=-bound, zmax=bound, zmid=0,
        colorscale="RdBu", text=contributions, texttemplate="%{text:+.2g}",
        customdata=np.stack([values_a, values_b, what], axis=-1),
        colorbar=dict(title=dict(text=f"share of the<br>per-class<br>difference<br>+ favours {a}", side="top"),
                      tickformat="+.0%", thickness=14, len=0.9),
        hovertemplate=(f"%{{y}} · %{{x}}<br>%{{customdata[2]}}: {a} %{{customdata[0]:.4g}} vs {b} "
                       "%{customdata[1]:.4g}<br>contribution to the score difference %{text:+.4g}<br>"
                       "share of the metric's per-class difference %{z:+.1%}<extra></extra>"),
    ))
    fig.update_yaxes(autorange="reversed", title_text="class (most of the lead first)")
    fig.update_xaxes(title_text="metric (text: contribution in score units)")
    return base_layout(fig, f"Which classes make the difference: {a} − {b}", height=max(360, 30 * len(classes) + 170))


def why_metric_table(explanation, metric_label=str, model_labels: tuple[str, str] = ("A", "B"),
                     groundtruth_label: str = "ground truth") -> pd.DataFrame:
    """The pair's verdict per metric as text, the ground truth first, then the metrics strongest evidence
    first: family, both scores, the difference (better-is-positive, + favours A) ± its standard error, the
    verdict ("A ahead beyond noise", "within noise (a tie)", …) and the metric's weighted τ."""
    from transvis.explain import FAMILY_TITLES
    from transvis.headline import score_text

    a, b = model_labels
    rows, index = [], []

    def verdict(favours, beyond):
        if favours is None:
            return "tie (equal)"
        name = a if favours == "A" else b
        if beyond is None:
            return f"{name} ahead (noise unknown)"
        return f"{name} ahead beyond noise" if beyond else "within noise: a tie"

    gt = explanation.groundtruth
    if gt is not None:
        index.append(f"{GROUNDTRUTH_ROW}: {groundtruth_label}")
        diff = 100 * (gt.accuracy_a - gt.accuracy_b)
        se = 100 * math.hypot(gt.se_a, gt.se_b)
        rows.append(["accuracy (%)", score_text(100 * gt.accuracy_a, 100 * gt.se_a),
                     score_text(100 * gt.accuracy_b, 100 * gt.se_b), score_text(diff, se),
                     verdict(gt.favours, gt.beyond_noise), "(the reference)"])
    for c in explanation.comparisons:
        index.append(metric_label(c.metric))
        rows.append([FAMILY_TITLES[c.family], score_text(c.score_a), score_text(c.score_b),
                     score_text(c.difference, c.se if math.isfinite(c.se) else None),
                     verdict(c.favours, c.beyond_noise), f"{c.tau:+.2f}" if math.isfinite(c.tau) else "–"])
    columns = ["family", f"{a} score", f"{b} score", f"difference (+ favours {a})", "verdict", "weighted τ"]
    return pd.DataFrame(rows, columns=columns, index=pd.Index(index, name="metric"))


def why_family_table(explanation, metric_label=str, model_labels: tuple[str, str] = ("A", "B")) -> pd.DataFrame:
    """One row per metric family: its metrics, how many favour each model (beyond noise in brackets) and the
    family's verdict."""
    from transvis.explain import FAMILY_TITLES

    a, b = model_labels
    rows = []
    for f in explanation.families:
        leader = {"A": a, "B": b, None: "split / tie"}[f.leader]
        rows.append({"family": FAMILY_TITLES[f.family], "metrics": ", ".join(metric_label(m) for m in f.metrics),
                     f"for {a} (beyond noise)": f"{f.for_a} ({f.beyond_a})",
                     f"for {b} (beyond noise)": f"{f.for_b} ({f.beyond_b})", "verdict": leader})
    return pd.DataFrame(rows).set_index("family") if rows else pd.DataFrame()


def hardest_samples(hardness_margin, k: int = 24, labels=None, only_class: int | None = None) -> np.ndarray:
    """Indices of the ``k`` samples with the lowest value of ``hardness_margin`` [N] (hardest first; equal values
    in sample order, so the choice is deterministic), optionally restricted to samples of ``only_class``. Pass a
    criterion that does not tie (:func:`transvis.explain.nearest_mean_margin`): saturated ConfMix weights do."""
    scores = np.asarray(hardness_margin, dtype=float)
    candidates = np.arange(scores.size)
    if only_class is not None:
        if labels is None:
            raise ValueError("pass labels to restrict the hardest samples to one class.")
        candidates = candidates[np.asarray(labels) == only_class]
    order = candidates[np.argsort(scores[candidates], kind="stable")]
    return order[:k]
