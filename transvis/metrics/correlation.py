"""How well a transferability metric ranks models: correlation of its scores with fine-tuned accuracies.

Not a metric itself (this module registers nothing); it scores a *metric* against ground truth the way the
transferability papers do:

- ``weighted_tau``: ``scipy.stats.weightedtau(scores, accuracies).statistic`` with every default (ranks
  from the values, hyperbolic weigher 1/(r+1), additive, symmetrised over both rankings). This is the
  number the SFDA-family ``rank_correlation.py`` (``w_kendall_metric``) and the TLlib model-selection
  benchmark report; it reproduces TLlib's published table (``../shared/refvectors/weighted_tau.json``).
- ``kendall_tau`` (tau-b), ``spearman``, ``pearson``: scipy's estimators.
- ``top1_regret``: accuracy of the best model minus accuracy of the model the metric ranks first.
- ``rel_at_k``: the SFDA-family ``rel_k``: best accuracy among the metric's top-k divided by the best
  accuracy overall (1.0 = the metric's top-k contains the best model).
- ``recall_at_k``: the SFDA-family ``recall_k``: 1 if the metric's top-1 is among the top-k by accuracy.
- ``topk_overlap``: the fraction of the top-k models by accuracy that are also in the metric's top-k.

**Ties.** The official scripts break ties by dictionary order, so their top-k depends on how the models
were listed. Here a tie is resolved by averaging over every tie-break, so the value never depends on input
order: a quantity "at k" is its expectation when tied models at the boundary are picked uniformly at random.
For the top-1 this means ``top1_regret = best − mean accuracy of the models tied for the top score``.
A constant score (or accuracy) vector carries no ranking, so the rank coefficients are NaN there
(documented, not an error).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.stats

__all__ = [
    "correlate",
    "kendall_tau",
    "pearson",
    "recall_at_k",
    "rel_at_k",
    "spearman",
    "top1_regret",
    "topk_overlap",
    "weighted_tau",
]

MIN_MODELS = 3


def _aligned(scores, accuracies, *, strict: bool = True) -> tuple[list, np.ndarray, np.ndarray]:
    """Model names and float64 score/accuracy vectors in one common order.

    ``scores`` and ``accuracies`` are both ``{model: value}`` mappings (matched by key), or both sequences
    of equal length (matched by position). With ``strict=False`` mappings are reduced to their common keys.
    """
    if isinstance(scores, Mapping) != isinstance(accuracies, Mapping):
        raise ValueError(
            "scores and accuracies must both be {model: value} dicts or both be sequences of the same length."
        )
    if isinstance(scores, Mapping):
        score_keys, acc_keys = set(scores), set(accuracies)
        if strict and score_keys != acc_keys:
            no_acc = sorted(map(str, score_keys - acc_keys))
            no_score = sorted(map(str, acc_keys - score_keys))
            raise ValueError(
                "scores and accuracies name different models "
                f"(without accuracy: {no_acc[:5]}; without score: {no_score[:5]}). "
                "Pass the same models to both, or strict=False to use the models they share."
            )
        models = [m for m in scores if m in acc_keys]  # the scores' order, for readable output
        s = [scores[m] for m in models]
        a = [accuracies[m] for m in models]
    else:
        if isinstance(scores, (str, bytes)) or isinstance(accuracies, (str, bytes)):
            raise ValueError("scores and accuracies must be numbers, not strings.")
        s, a = list(np.ravel(np.asarray(scores, dtype=object))), list(np.ravel(np.asarray(accuracies, dtype=object)))
        if len(s) != len(a):
            raise ValueError(f"scores has {len(s)} entries but accuracies has {len(a)}; pass one accuracy per score.")
        models = list(range(len(s)))
    s_arr, a_arr = _as_values(s, "scores", models), _as_values(a, "accuracies", models)
    if len(models) < MIN_MODELS:
        raise ValueError(
            f"a rank correlation needs at least {MIN_MODELS} models with both a score and an accuracy; "
            f"got {len(models)}. Rank more models."
        )
    return models, s_arr, a_arr


def _as_values(values: Sequence, name: str, models: list) -> np.ndarray:
    try:
        arr = np.array([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be real numbers; {err}.") from err
    bad = [models[i] for i in np.flatnonzero(~np.isfinite(arr))]
    if bad:
        raise ValueError(
            f"{name} contain NaN/inf for {bad[:5]}; drop those models (a failed metric has no rank) and retry."
        )
    return arr


def _is_constant(v: np.ndarray) -> bool:
    return bool(np.all(v == v[0]))


def _coefficient(fn, s: np.ndarray, a: np.ndarray) -> float:
    if _is_constant(s) or _is_constant(a):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fn(s, a).statistic)


def weighted_tau(scores, accuracies, *, strict: bool = True) -> float:
    """Weighted Kendall tau, ``scipy.stats.weightedtau(scores, accuracies).statistic`` with defaults.

    Top-ranked models weigh more (hyperbolic weights 1/(r+1)); the defaults symmetrise over both rankings,
    so swapping the arguments gives the same value. NaN when either side is constant.
    """
    _, s, a = _aligned(scores, accuracies, strict=strict)
    return _coefficient(scipy.stats.weightedtau, s, a)


def kendall_tau(scores, accuracies, *, strict: bool = True) -> float:
    """Kendall's tau-b (``scipy.stats.kendalltau``; ties in either ranking corrected). NaN if constant."""
    _, s, a = _aligned(scores, accuracies, strict=strict)
    return _coefficient(scipy.stats.kendalltau, s, a)


def spearman(scores, accuracies, *, strict: bool = True) -> float:
    """Spearman's rank correlation (``scipy.stats.spearmanr``; ties get average ranks). NaN if constant."""
    _, s, a = _aligned(scores, accuracies, strict=strict)
    return _coefficient(scipy.stats.spearmanr, s, a)


def pearson(scores, accuracies, *, strict: bool = True) -> float:
    """Pearson's linear correlation of the raw values (``scipy.stats.pearsonr``). NaN if constant."""
    _, s, a = _aligned(scores, accuracies, strict=strict)
    return _coefficient(scipy.stats.pearsonr, s, a)


def _topk_membership(values: np.ndarray, k: int) -> np.ndarray:
    """P(model is among the k highest values) when ties at the boundary are broken uniformly at random."""
    order = np.sort(values)[::-1]
    kth = order[k - 1]
    above = values > kth
    tied = values == kth
    slots = k - int(above.sum())
    return above + tied * (slots / tied.sum())


def _expected_best_of_topk(s: np.ndarray, a: np.ndarray, k: int) -> float:
    """E[max accuracy among the metric's top-k], ties at the k-th score broken uniformly at random."""
    kth = np.sort(s)[::-1][k - 1]
    sure = a[s > kth]
    tied = np.sort(a[s == kth])[::-1]  # descending
    g, r = tied.size, k - sure.size
    floor = sure.max() if sure.size else -math.inf
    # The r models drawn from the g tied ones have the j-th largest tied accuracy as their best with
    # probability C(g-1-j, r-1) / C(g, r) (j = 0-based rank among the tied).
    total = 0.0
    for j in range(g - r + 1):
        p = math.comb(g - 1 - j, r - 1) / math.comb(g, r)
        total += p * max(floor, tied[j])
    return float(total)


def _check_k(k: int, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer in 1..{n} (the number of models); got {k!r}.")
    return int(k)


def top1_regret(scores, accuracies, *, strict: bool = True) -> float:
    """Best accuracy minus the accuracy of the metric's top-ranked model (0 = the metric picks the best).

    In the accuracies' units. When several models tie for the top score, the expected regret of picking
    one of them at random: best − mean of their accuracies.
    """
    _, s, a = _aligned(scores, accuracies, strict=strict)
    return float(a.max() - _expected_best_of_topk(s, a, 1))


def rel_at_k(scores, accuracies, k: int = 1, *, strict: bool = True) -> float:
    """SFDA-family ``rel_k``: max accuracy among the metric's top-k models / max accuracy overall.

    1.0 when the best model is in the metric's top-k. Defined for positive accuracies (as in the official
    ``rank_correlation.py``). Ties at the k-th score: the expectation over random tie-breaks.
    """
    _, s, a = _aligned(scores, accuracies, strict=strict)
    k = _check_k(k, s.size)
    if a.max() <= 0:
        raise ValueError("rel_at_k divides by the best accuracy, which must be positive; pass accuracies > 0.")
    return float(_expected_best_of_topk(s, a, k) / a.max())


def recall_at_k(scores, accuracies, k: int = 1, *, strict: bool = True) -> float:
    """SFDA-family ``recall_k``: 1 if the metric's top-1 model is among the top-k by accuracy, else 0.

    Ties (for the metric's top score or at the k-th accuracy) give the probability under random tie-breaks.
    """
    _, s, a = _aligned(scores, accuracies, strict=strict)
    k = _check_k(k, s.size)
    pick = _topk_membership(s, 1)
    return float((pick * _topk_membership(a, k)).sum())


def topk_overlap(scores, accuracies, k: int = 3, *, strict: bool = True) -> float:
    """Fraction of the k most accurate models that are also among the metric's k highest scores.

    ``|top_k(metric) ∩ top_k(accuracy)| / k``; ties at either boundary give the expectation under
    independent random tie-breaks.
    """
    _, s, a = _aligned(scores, accuracies, strict=strict)
    k = _check_k(k, s.size)
    return float((_topk_membership(s, k) * _topk_membership(a, k)).sum() / k)


def correlate(scores, accuracies, *, ks: Sequence[int] = (1, 3, 5), strict: bool = True) -> dict:
    """Every ranking statistic of a metric's ``scores`` against ground-truth ``accuracies``.

    Parameters
    ----------
    scores, accuracies : ``{model: float}`` (matched by model; ``strict=False`` keeps the shared models)
        or two equal-length sequences. At least 3 models, all values finite.
    ks : the k of ``rel@k``, ``recall@k`` and ``overlap@k`` (values above the number of models are skipped).

    Returns
    -------
    dict with ``n_models``, ``weighted_tau``, ``kendall_tau``, ``spearman``, ``pearson``, ``top1_regret``,
    ``best_model`` (most accurate; a list when tied), ``top1_model`` (the metric's pick; a list when tied),
    and ``rel@k``, ``recall@k``, ``overlap@k`` for each k. All floats are plain Python floats (JSON-able).
    """
    models, s, a = _aligned(scores, accuracies, strict=strict)

    def _names(mask):
        picked = [models[i] for i in np.flatnonzero(mask)]
        return picked[0] if len(picked) == 1 else picked

    out = {
        "n_models": len(models),
        "weighted_tau": _coefficient(scipy.stats.weightedtau, s, a),
        "kendall_tau": _coefficient(scipy.stats.kendalltau, s, a),
        "spearman": _coefficient(scipy.stats.spearmanr, s, a),
        "pearson": _coefficient(scipy.stats.pearsonr, s, a),
        "top1_regret": float(a.max() - _expected_best_of_topk(s, a, 1)),
        "best_model": _names(a == a.max()),
        "top1_model": _names(s == s.max()),
    }
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"ks must hold positive integers; got {k!r}.")
        if k > len(models):
            continue
        k = int(k)
        out[f"rel@{k}"] = (
            float(_expected_best_of_topk(s, a, k) / a.max()) if a.max() > 0 else math.nan
        )
        out[f"recall@{k}"] = float((_topk_membership(s, 1) * _topk_membership(a, k)).sum())
        out[f"overlap@{k}"] = float((_topk_membership(s, k) * _topk_membership(a, k)).sum() / k)
    return out
