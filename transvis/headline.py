"""What a ranking can honestly claim: headline picks that say when they cannot be told apart from the runner-up,
noise tiers of the ground truth, plausible rank ranges, and score ± noise as text.

UI-free (no Streamlit): the Leaderboard, the deep dive and the exports call these functions, and the unit tests
check their decisions.

* :func:`consensus_pick` — the model with the best mean rank over the metrics, and whether it is *beyond the
  scores' noise* ahead of the runner-up on a majority of the metrics whose noise was estimated.
* :func:`groundtruth_pick` — the most accurate model, and whether its accuracy beats the runner-up's beyond the
  binomial noise of their test sets (:func:`transvis.uncertainty.accuracy_ahead`).
* :func:`metric_pick` — the metric whose weighted τ with the ground truth is highest, and whether it beats the
  runner-up's τ beyond the noise (paired τ draws, :meth:`transvis.ranking.RankingTable.tau_ahead`).

Each returns a :class:`Pick`: ``clear`` is True (beyond noise), False (cannot be told apart) or None (the noise
is unknown, so the data cannot say), with a plain sentence in ``detail``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from transvis.ordering import RTOL, display_order, tie_groups, tolerance
from transvis.uncertainty import accuracy_ahead

__all__ = [
    "NOISE_EXPLAINED",
    "Pick",
    "noise_summary",
    "accuracy_fraction",
    "binomial_se",
    "consensus_pick",
    "degenerate_scores",
    "groundtruth_pick",
    "groundtruth_tiers",
    "metric_pick",
    "rank_range",
    "rank_text",
    "score_text",
    "tier_index",
]

Label = Callable[[str], str]

# What the noise is and what it assumes, in plain words (markdown), for the Leaderboard's expander and the
# exported report: :mod:`transvis.uncertainty`'s docstring, shortened.
NOISE_EXPLAINED = """
Every score is a statistic of the target samples: another draw of the same number of images from the same task
would give another score. **How much is estimated:** each model is re-scored on 10 random subsets that keep 80 %
of every class (no image repeated, unlike a bootstrap, which would flatter the in-sample metrics), and the
subsets' spread is scaled up to the full sample (a *delete-d jackknife*: standard error = 2 × the subsets'
standard deviation). LogME scores its subsets without a refit: each image's exact effect on the evidence when
left out (at the fitted head's α and β), summed over the images a subset leaves out. This follows refitted
subsets closely, and LogME refits where its heads have too many effective parameters for it.
Two models scored on the same images share the subsets, so "is A ahead of B?" looks at the
noise of their *difference*; the decision uses Student's t with 9 degrees of freedom at 95 %.

**What it assumes.** (1) The images are independent draws from the task. (2) Only the noise of *which images
were sampled* is counted — not the randomness of pre-training or of feature extraction. (3) 80 % of the sample
behaves like the whole (metrics whose level depends on samples per dimension, such as SFDA when N ≈ D, shift
level on subsets; only their spread is used). (4) Ten subsets estimate the standard error itself only to about
±22 %.

**Ground truth and τ.** An accuracy measured on *n* test images is a binomial proportion, with standard error
√(p(1 − p)/n); two accuracies are "beyond noise" apart when their difference exceeds 1.96 times the combined
standard error (treated as independent, which is cautious when both were tested on the same images). The
interval of weighted τ comes from 1,000 draws that resample the scores (one subset shared by all models) and the
accuracies (binomial) together; two metrics' τ are compared on the same draws.

**Reading the table.** "0.312 ± 0.008" is a score with its standard error; models marked with the same "≈k" in
a column (shaded alike) cannot be ordered by that column beyond its noise. In the ranks view "3 (2–4)" gives the
ranks the noise allows. NLEEP and PARC take minutes per scoring, so their noise is not estimated.
""".strip()


def _same(name: str) -> str:
    return name


@dataclass(frozen=True)
class Pick:
    """One headline pick.

    pick : the chosen model or metric (None when there is nothing to pick); runner_up : the second best;
    clear : True when the pick is ahead of the runner-up beyond the noise, False when the two cannot be told
    apart, None when the noise is unknown; tied_with : every candidate the pick cannot be told apart from
    (runner-up first when it is one of them); detail : one plain sentence saying why.
    """

    pick: str | None
    runner_up: str | None = None
    clear: bool | None = None
    tied_with: tuple[str, ...] = field(default_factory=tuple)
    detail: str = ""

    @property
    def within_noise(self) -> bool:
        """True when the pick cannot be told apart from the runner-up."""
        return self.clear is False


# -- consensus -------------------------------------------------------------------------------------------

def _mean_rank_order(ranks: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    mean = ranks.astype(float).mean(axis=1).dropna()
    order = display_order(mean.to_dict(), higher_is_better=False)
    return mean, order


def _noise_votes(table, metrics: Sequence[str], a: str, b: str) -> tuple[int, int, int]:
    """(metrics with ``a`` beyond noise ahead of ``b``, with ``b`` beyond noise ahead of ``a``, metrics whose
    noise was estimated for both)."""
    ahead = behind = counted = 0
    for metric in metrics:
        if not (math.isfinite(float(table.scores.at[a, metric])) and math.isfinite(float(table.scores.at[b, metric]))):
            continue
        forward = table.is_ahead(metric, a, b)
        if forward is None:
            continue
        counted += 1
        if forward:
            ahead += 1
        elif table.is_ahead(metric, b, a):
            behind += 1
    return ahead, behind, counted


def consensus_pick(table, metrics: Sequence[str] | None = None, *, model_label: Label = _same,
                   metric_label: Label = _same) -> Pick:
    """The model with the best mean rank over ``metrics`` (default: every metric that scored a model).

    Clear when, on a strict majority of the metrics whose noise was estimated for both, the pick is beyond the
    scores' noise ahead of the runner-up (second best mean rank), and the two do not share the mean rank.
    ``tied_with`` lists every other model the pick is not clearly ahead of by the same rule.
    """
    metrics = [m for m in (metrics if metrics is not None else table.metrics)
               if m in table.scores.columns and table.scores[m].notna().any()]
    if not metrics:
        return Pick(None, detail="No metric scored any model.")
    mean, order = _mean_rank_order(table.ranks[metrics])
    if not order:
        return Pick(None, detail="No metric scored any model.")
    pick = order[0]
    if len(order) < 2:
        return Pick(pick, detail="Only one model was scored.")
    runner = order[1]
    shared_rank = abs(mean[pick] - mean[runner]) <= tolerance([mean[pick], mean[runner]], rtol=RTOL)

    def verdict(other: str) -> bool | None:
        if abs(mean[pick] - mean[other]) <= tolerance([mean[pick], mean[other]], rtol=RTOL):
            return False
        ahead, _, counted = _noise_votes(table, metrics, pick, other)
        if counted == 0:
            return None
        return ahead * 2 > counted

    clear = verdict(runner)
    tied = tuple(m for m in order[1:] if verdict(m) is False)
    ahead, behind, counted = _noise_votes(table, metrics, pick, runner)
    p, r = model_label(pick), model_label(runner)
    if shared_rank:
        detail = (f"{p} shares the best mean rank ({mean[pick]:.2f}) with {r}: the metrics cannot tell them "
                  "apart.")
    elif clear is None:
        no_noise = ", ".join(metric_label(m) for m in metrics)
        detail = (f"Best mean rank {mean[pick]:.2f} vs {r}'s {mean[runner]:.2f}; the scores' noise was not "
                  f"estimated for {no_noise}, so whether that lead is real is unknown.")
    else:
        against = f" and behind it beyond noise on {behind}" if behind else ""
        counts = f"ahead of {r} beyond noise on {ahead} of {counted} metric(s){against}"
        if clear:
            detail = f"Best mean rank {mean[pick]:.2f} vs {mean[runner]:.2f}: {counts}."
        else:
            detail = (f"Cannot be told apart from {r}: {counts}, within noise on the rest "
                      f"(mean ranks {mean[pick]:.2f} vs {mean[runner]:.2f}).")
    return Pick(pick, runner, clear, tied, detail)


# -- ground truth ---------------------------------------------------------------------------------------

def accuracy_fraction(accuracies: Mapping[str, float]) -> dict[str, float]:
    """Accuracies as fractions in [0, 1]: a table written in percent (any value above 1) is divided by 100."""
    values = {m: float(v) for m, v in accuracies.items() if v is not None and math.isfinite(float(v))}
    scale = 100.0 if values and max(values.values()) > 1.0 else 1.0
    return {m: v / scale for m, v in values.items()}


def binomial_se(accuracy: float, n_test: int | None) -> float:
    """Standard error of an accuracy (fraction) measured on ``n_test`` samples; NaN when n is unknown."""
    if not n_test or not math.isfinite(float(accuracy)):
        return math.nan
    p = min(max(float(accuracy), 0.0), 1.0)
    return math.sqrt(p * (1.0 - p) / int(n_test))


def _gt_ahead(acc: Mapping[str, float], n_test: Mapping[str, int] | None, a: str, b: str,
              level: float) -> bool | None:
    if abs(acc[a] - acc[b]) <= tolerance([acc[a], acc[b]], rtol=RTOL):
        return False
    if not n_test:
        return None
    return accuracy_ahead(acc[a], acc[b], n_test.get(a), n_test.get(b), level=level)


def groundtruth_tiers(accuracies: Mapping[str, float], n_test: Mapping[str, int] | None = None, *,
                      level: float = 0.95) -> list[list[str]]:
    """Tiers of models the ground truth itself cannot order (as :meth:`ScoreNoise.noise_groups`): the first
    holds the most accurate model and every model whose accuracy it does not beat beyond binomial noise, and so
    on. Without test sizes, only equal accuracies are grouped."""
    acc = accuracy_fraction(accuracies)
    if not n_test:
        return tie_groups(acc)
    remaining = display_order(acc)
    groups = []
    while remaining:
        leader = remaining[0]
        tier = [m for m in remaining if m == leader or _gt_ahead(acc, n_test, leader, m, level) is not True]
        groups.append(tier)
        remaining = [m for m in remaining if m not in tier]
    return groups


def groundtruth_pick(accuracies: Mapping[str, float], n_test: Mapping[str, int] | None = None, *,
                     level: float = 0.95, model_label: Label = _same) -> Pick:
    """The most accurate model; clear when it beats the runner-up beyond the binomial noise of both test sets
    (:func:`transvis.uncertainty.accuracy_ahead`), None when a test size is unknown."""
    acc = accuracy_fraction(accuracies)
    order = display_order(acc)
    if not order:
        return Pick(None, detail="No ground-truth accuracy.")
    pick = order[0]
    if len(order) < 2:
        return Pick(pick, detail="Only one model has a ground-truth accuracy.")
    runner = order[1]
    clear = _gt_ahead(acc, n_test, pick, runner, level)
    tied = tuple(m for m in order[1:] if _gt_ahead(acc, n_test, pick, m, level) is False)
    p, r = model_label(pick), model_label(runner)
    n_pick, n_runner = (n_test or {}).get(pick), (n_test or {}).get(runner)
    values = f"{acc[pick]:.1%} vs {acc[runner]:.1%}"
    if n_pick and n_runner:
        sizes = (f"{n_pick:,} test samples each" if n_pick == n_runner
                 else f"{n_pick:,} and {n_runner:,} test samples")
        margin = math.hypot(binomial_se(acc[pick], n_pick), binomial_se(acc[runner], n_runner))
        noise = f"the binomial noise of the difference is ±{margin:.1%} (1 se)"
    if clear is None and acc[pick] != acc[runner]:
        detail = (f"{values} for {r}; the test-set sizes are unknown, so whether this gap exceeds the ground "
                  "truth's own noise cannot be judged.")
    elif clear:
        detail = f"{values} for {r} on {sizes}: beyond binomial noise ({noise})."
    elif n_pick and n_runner:
        more = f" and {len(tied) - 1} more model(s)" if len(tied) > 1 else ""
        detail = (f"Cannot be told apart from {r}{more}: {values} on {sizes} is within noise ({noise}).")
    else:
        detail = f"Cannot be told apart from {r}: both have accuracy {acc[pick]:.1%}."
    return Pick(pick, runner, clear, tied, detail)


# -- metrics --------------------------------------------------------------------------------------------

def metric_pick(table, metrics: Sequence[str] | None = None, *, metric_label: Label = _same) -> Pick:
    """The metric with the highest weighted τ against the ground truth; clear when its τ beats the runner-up's
    beyond the noise (:meth:`RankingTable.tau_ahead`: the paired τ draws' difference excludes 0)."""
    taus = {m: float(v) for m, v in table.weighted_tau.items()
            if (metrics is None or m in metrics) and v is not None and math.isfinite(float(v))}
    order = display_order(taus)
    if not order:
        return Pick(None, detail="No metric could be correlated with the ground truth.")
    top = order[0]
    if len(order) < 2:
        return Pick(top, detail=f"Only {metric_label(top)} could be correlated with the ground truth.")
    second = order[1]

    def ahead(other: str) -> bool | None:
        if abs(taus[top] - taus[other]) <= tolerance([taus[top], taus[other]], rtol=RTOL):
            return False
        return table.tau_ahead(top, other)

    clear = ahead(second)
    tied = tuple(m for m in order[1:] if ahead(m) is False)
    t, s = metric_label(top), metric_label(second)
    values = f"{t}'s τ {table.tau_text(top)} vs {s}'s {table.tau_text(second)}"
    if clear is None:
        detail = f"{values}; τ's noise was not estimated, so whether this lead is real is unknown."
    elif clear:
        detail = f"{values}: ahead beyond the noise (paired draws of both τ)."
    else:
        more = f" and {len(tied) - 1} more metric(s)" if len(tied) > 1 else ""
        detail = f"Cannot be told apart from {s}{more}: {values}; the difference is within noise."
    return Pick(top, second, clear, tied, detail)


# -- ranks and scores as text ----------------------------------------------------------------------------

def tier_index(groups: Sequence[Sequence[str]]) -> dict[str, tuple[int, int]]:
    """``{model: (tier number from 1, tier size)}`` of tiers such as :meth:`RankingTable.noise_groups`."""
    return {m: (i + 1, len(group)) for i, group in enumerate(groups) for m in group}


def rank_range(table, metric: str, model: str) -> tuple[int, int, int] | None:
    """``(best, worst, n)``: the ranks ``model`` could hold on ``metric`` given the noise, out of ``n`` scored
    models. best = 1 + models beyond noise ahead of it, worst = n − models it is beyond noise ahead of; without
    a noise estimate, the span of its float-noise tie group. None when the model has no score."""
    column = table.scores[metric].dropna()
    if model not in column.index:
        return None
    n = len(column)
    rank = int(table.ranks.at[model, metric])
    verdicts = [(table.is_ahead(metric, other, model), table.is_ahead(metric, model, other))
                for other in column.index if other != model]
    if any(v is None for pair in verdicts for v in pair):
        group = next((g for g in tie_groups(column.to_dict(), higher_is_better=_higher_is_better(metric))
                      if model in g), [model])
        return rank, rank + len(group) - 1, n
    above = sum(1 for ahead, _ in verdicts if ahead)
    below = sum(1 for _, behind in verdicts if behind)
    return 1 + above, n - below, n


def rank_text(table, metric: str, model: str) -> str:
    """"2 of 7", "1 of 2 (tied)" (a float-noise tie: equal scores), "1–3 of 7 (within noise)" or "–"."""
    span = rank_range(table, metric, model)
    if span is None:
        return "–"
    best, worst, n = span
    rank = int(table.ranks.at[model, metric])
    column = table.scores[metric].dropna()
    group = next((g for g in tie_groups(column.to_dict(), higher_is_better=_higher_is_better(metric))
                  if model in g), [model])
    tied = len(group) > 1
    if best == worst:
        return f"{rank} of {n}"
    if tied and (best, worst) == (rank, rank + len(group) - 1):
        return f"{rank} of {n} (tied)"
    return f"{best}–{worst} of {n} (within noise)"


def _higher_is_better(metric: str) -> bool:
    try:
        from transvis.metrics import get_spec

        return get_spec(metric).higher_is_better
    except ValueError:
        return True


def score_text(score: float, se: float | None = None) -> str:
    """"0.312 ± 0.008": the score rounded where its standard error starts (one significant digit of the se,
    two when it starts with 1 or 2); "0.3123" without an se; "–" for NaN."""
    if score is None or not math.isfinite(float(score)):
        return "–"
    score = float(score)
    if se is None or not math.isfinite(float(se)):
        return f"{score:.4g}"
    se = float(se)
    if se <= 0:
        return f"{score:.4g} ± 0"
    exponent = math.floor(math.log10(se))
    leading = se / 10 ** exponent
    digits = 2 if leading < 3 else 1
    decimals = max(0, digits - 1 - exponent)
    if decimals > 10:
        return f"{score:.4g} ± {se:.1g}"
    return f"{score:.{decimals}f} ± {se:.{decimals}f}"


def degenerate_scores(table) -> dict[str, dict[str, str]]:
    """``{metric: {model: reason and fix}}`` for every result flagged degenerate (saturated or at a bound:
    ``MetricResult.degenerate``); empty when none is (or the metrics do not flag it)."""
    out: dict[str, dict[str, str]] = {}
    for metric, per_model in table.results.items():
        for model, result in per_model.items():
            reason = getattr(result, "degenerate", None)
            if reason:
                out.setdefault(metric, {})[model] = str(reason)
    return out


def _pick_dict(pick: Pick) -> dict:
    verdict = {True: "clear", False: "within noise", None: "noise unknown"}[pick.clear]
    return {"pick": pick.pick, "runner_up": pick.runner_up, "verdict": verdict,
            "tied_with": list(pick.tied_with), "detail": pick.detail}


def noise_summary(table, metrics: Sequence[str] | None = None, groundtruth_n: Mapping[str, int] | None = None, *,
                  model_label: Label = _same, metric_label: Label = _same) -> dict:
    """What the exports add to :meth:`RankingTable.to_dict` (JSON-able): ``tiers`` {metric: [[models]]} (best
    tier first), ``plausible_ranks`` {metric: {model: [best, worst]}}, ``groundtruth_tiers``, ``tau_text``
    {metric: "+0.80 [+0.10, +0.95]"}, ``headline`` (the three picks with their verdict: "clear", "within noise"
    or "noise unknown", and the sentence), ``degenerate`` {metric: {model: reason}} and ``method`` (what the
    noise is and assumes)."""
    metrics = [m for m in (metrics if metrics is not None else table.metrics)
               if m in table.scores.columns and table.scores[m].notna().any()]
    n_test = groundtruth_n if groundtruth_n is not None else table.groundtruth_n
    out: dict = {
        "tiers": {m: table.noise_groups(m) for m in metrics},
        "noise_estimated": {m: m in table.noise for m in metrics},
        "plausible_ranks": {m: {model: list(span[:2]) for model in table.models
                                if (span := rank_range(table, m, model)) is not None} for m in metrics},
        "degenerate": degenerate_scores(table),
        "method": NOISE_EXPLAINED.replace("**", "").replace("*", ""),
    }
    headline = {"consensus": _pick_dict(consensus_pick(table, metrics, model_label=model_label,
                                                       metric_label=metric_label))}
    if table.groundtruth:
        out["groundtruth_tiers"] = groundtruth_tiers(table.groundtruth, n_test)
        out["tau_text"] = {m: table.tau_text(m) for m in metrics if m in table.correlations}
        headline["best_by_groundtruth"] = _pick_dict(groundtruth_pick(table.groundtruth, n_test,
                                                                      model_label=model_label))
        headline["most_trustworthy_metric"] = _pick_dict(metric_pick(table, metrics, metric_label=metric_label))
    out["headline"] = headline
    return out
