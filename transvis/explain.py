"""Why does model A rank above model B? Reasons with numbers, as pure functions of a ranking table.

UI-free (no Streamlit): the deep-dive page draws what :func:`explain_pair` returns, and the unit tests check it.

* **Overall** (:func:`compare_metrics`, :func:`compare_groundtruth`): on which metrics A scores better than B,
  whether each difference is outside the scores' noise (:meth:`RankingTable.is_ahead`, the paired difference's
  standard error), and the ground truth of both with its binomial noise.
* **Per class** (:func:`class_terms`, :func:`class_contributions`): metrics whose score is a sum over classes
  (SFDA, NCM softmax, LogME, GBC, LEEP, NCE, TransRate's class rates) or a simple function of one (NC's
  1/(1 + Σ NC1 shares), FaCe's variance-collapse term) are split into each class's contribution to
  score(A) − score(B), in score units. Classes are ranked by their *share* of each metric's per-class
  difference (contribution / Σ|contributions|, unitless, so metrics of any scale can be averaged).
* **Per family** (:func:`metric_family`): separability, within-class collapse, posterior / evidence, response
  to a perturbation — each family's verdict.
* **Flags** (:func:`pair_flags`): where a per-sample or per-class view cannot inform — degenerate scores, tied
  scores, ConfMix weights saturated at their bounds, classes saturated in both models.

Hardest samples are ranked by :func:`nearest_mean_margin`, a continuous margin that does not tie where ConfMix
weights do (:func:`transvis.viz.deepdive.hardest_samples` breaks any remaining tie by the sample index).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from transvis.ordering import RTOL, tolerance

__all__ = [
    "FAMILY_TITLES",
    "ClassTerms",
    "FamilyVerdict",
    "GroundTruthComparison",
    "MetricComparison",
    "PairExplanation",
    "class_contributions",
    "class_priors",
    "class_ranking",
    "class_share_table",
    "class_terms",
    "compare_groundtruth",
    "compare_metrics",
    "confmix_saturation",
    "explain_pair",
    "groundtruth_rank",
    "metric_family",
    "metrics_by_tau",
    "nearest_mean_margin",
    "pair_flags",
]

Label = Callable[[str], str]

# -- metric families ------------------------------------------------------------------------------------

FAMILY_TITLES = {
    "separability": "Class separability",
    "collapse": "Within-class spread / collapse",
    "evidence": "Posterior / evidence",
    "perturbation": "Response to a perturbation",
    "other": "Other",
}
# What the registry cannot say: which family a metric's maths belongs to. Wrappers (``wraps_metric``) are
# "perturbation" and source-posterior metrics (``needs_source_probs``) "evidence" by their specs.
_FAMILY_OF = {
    "sfda": "separability", "ncm_softmax": "separability", "gbc": "separability", "hscore": "separability",
    "hscore_shrinkage": "separability", "transrate": "separability", "parc": "separability",
    "nc": "collapse", "face": "collapse", "ncti": "collapse",
    "logme": "evidence", "nleep": "evidence",
}


def metric_family(metric: str) -> str:
    """The family key of ``metric`` (a key of :data:`FAMILY_TITLES`): from its spec where the spec says it
    (``wraps_metric`` → "perturbation", ``needs_source_probs`` → "evidence"), else the module's table;
    "other" for a metric neither knows."""
    from transvis.metrics import get_spec

    try:
        spec = get_spec(metric)
    except ValueError:
        return "other"
    if spec.wraps_metric:
        return "perturbation"
    if spec.needs_source_probs:
        return "evidence"
    return _FAMILY_OF.get(spec.name, "other")


def _higher_is_better(metric: str) -> bool:
    from transvis.metrics import get_spec

    try:
        return get_spec(metric).higher_is_better
    except ValueError:
        return True


def _display(metric: str) -> str:
    from transvis.metrics import display_name

    return display_name(metric)


def _short(metric: str) -> str:
    from transvis.metrics import short_name

    return short_name(metric)


# -- overall: metric by metric --------------------------------------------------------------------------

@dataclass(frozen=True)
class MetricComparison:
    """One metric's verdict on A vs B.

    difference : better-is-positive score(A) − score(B) (flipped for lower-is-better metrics), so > 0 favours A;
    se : standard error of that difference (paired where both were scored on the same samples; NaN when the
    noise was not estimated); favours : "A", "B" or None (scores equal up to float noise); beyond_noise : True
    when the favoured model is ahead beyond the noise, False when within it, None when the noise is unknown;
    degenerate : ``{model: reason}`` for a degenerate score of either model; tau : the metric's weighted τ
    with the ground truth (NaN without one).
    """

    metric: str
    family: str
    score_a: float
    score_b: float
    difference: float
    se: float
    favours: str | None
    beyond_noise: bool | None
    degenerate: dict[str, str] = field(default_factory=dict)
    tau: float = math.nan

    @property
    def z(self) -> float:
        """|difference| / se (NaN without a noise estimate)."""
        return abs(self.difference) / self.se if math.isfinite(self.se) and self.se > 0 else math.nan

    @property
    def verdict(self) -> str:
        """"A ahead beyond noise", "A ahead within noise (a tie)", "A ahead (noise unknown)", "tie"."""
        if self.favours is None:
            return "tie (equal scores)"
        if self.beyond_noise is None:
            return f"{self.favours} ahead (noise not estimated)"
        return f"{self.favours} ahead beyond noise" if self.beyond_noise else "within noise (a tie)"


def compare_metrics(table, a: str, b: str, metrics: Sequence[str] | None = None) -> list[MetricComparison]:
    """Every metric of ``table`` (a :class:`~transvis.ranking.RankingTable`) that scored both ``a`` and ``b``,
    strongest evidence first: differences beyond the noise (largest |difference| / se first), then within
    noise, then those whose noise is unknown, then float ties."""
    out = []
    taus = table.weighted_tau
    for metric in (metrics if metrics is not None else table.metrics):
        if metric not in table.scores.columns:
            continue
        sa, sb = float(table.scores.at[a, metric]), float(table.scores.at[b, metric])
        if not (math.isfinite(sa) and math.isfinite(sb)):
            continue
        sign = 1.0 if _higher_is_better(metric) else -1.0
        difference = sign * (sa - sb)
        noise = table.noise.get(metric)
        se = noise.difference_se(a, b) if noise is not None and a in noise.estimate and b in noise.estimate \
            else math.nan
        tied = abs(sa - sb) <= tolerance([sa, sb], rtol=RTOL)
        favours = None if tied else ("A" if difference > 0 else "B")
        beyond = None
        if favours is not None:
            first, second = (a, b) if favours == "A" else (b, a)
            beyond = table.is_ahead(metric, first, second)
        degenerate = {m: str(r.degenerate) for m in (a, b)
                      if (r := table.results.get(metric, {}).get(m)) is not None and getattr(r, "degenerate", None)}
        out.append(MetricComparison(metric, metric_family(metric), sa, sb, difference, float(se), favours, beyond,
                                    degenerate, float(taus.get(metric, math.nan))))

    def strength(c: MetricComparison):
        if c.favours is None:
            return (3, 0.0)
        if c.beyond_noise is None:
            return (2, -abs(c.difference))
        z = c.z if math.isfinite(c.z) else 0.0
        return (0 if c.beyond_noise else 1, -z)

    return sorted(out, key=strength)


@dataclass(frozen=True)
class GroundTruthComparison:
    """The ground truth of A and B: accuracies as fractions, their binomial standard errors (NaN when the
    test size is unknown), which is higher ("A", "B" or None when equal) and whether beyond the binomial noise
    (None when a test size is unknown)."""

    accuracy_a: float
    accuracy_b: float
    se_a: float
    se_b: float
    favours: str | None
    beyond_noise: bool | None


def compare_groundtruth(accuracies: Mapping[str, float] | None, n_test: Mapping[str, int] | None,
                        a: str, b: str, *, level: float = 0.95) -> GroundTruthComparison | None:
    """A vs B on the ground truth (``{model: accuracy}`` in fractions or percent; ``n_test`` {model: test
    samples}); None when either model has no accuracy."""
    from transvis.headline import accuracy_fraction, binomial_se
    from transvis.uncertainty import accuracy_ahead

    if not accuracies:
        return None
    acc = accuracy_fraction(accuracies)
    if a not in acc or b not in acc:
        return None
    n_a, n_b = (n_test or {}).get(a), (n_test or {}).get(b)
    if abs(acc[a] - acc[b]) <= tolerance([acc[a], acc[b]], rtol=RTOL):
        favours, beyond = None, False
    else:
        favours = "A" if acc[a] > acc[b] else "B"
        first, second = (a, b) if favours == "A" else (b, a)
        beyond = accuracy_ahead(acc[first], acc[second], (n_test or {}).get(first), (n_test or {}).get(second),
                                level=level)
    return GroundTruthComparison(acc[a], acc[b], binomial_se(acc[a], n_a), binomial_se(acc[b], n_b), favours,
                                 beyond)


# -- per class ------------------------------------------------------------------------------------------

def class_priors(labels, n_classes: int) -> np.ndarray:
    """[C] class frequencies of ``labels`` (int [N])."""
    labels = np.asarray(labels, dtype=np.int64)
    return np.bincount(labels, minlength=n_classes)[:n_classes] / max(labels.size, 1)


@dataclass(frozen=True)
class ClassTerms:
    """One metric split by class for the pair (A, B).

    contributions : [C] each class's contribution to the better-is-positive score(A) − score(B), in score
    units; remainder : the part of the difference no class carries (TransRate's global rate, FaCe's
    fairness term; 0 for a pure sum over classes), so ``contributions.sum() + remainder`` is the difference;
    terms_a, terms_b : [C] the per-class quantity read from each trace (``term`` names it, ``higher_better``
    its direction); saturated : [C] classes whose term sits at its bound in both models (no information).
    """

    metric: str
    term: str
    higher_better: bool
    terms_a: np.ndarray
    terms_b: np.ndarray
    contributions: np.ndarray
    remainder: float
    saturated: np.ndarray

    @property
    def shares(self) -> np.ndarray:
        """[C] contribution / Σ|contributions| (each in [−1, 1], |·| summing to 1); zeros when no class differs."""
        total = float(np.abs(self.contributions).sum())
        return self.contributions / total if total > 0 else np.zeros_like(self.contributions)


def _posterior_terms(key: str):
    def split(ta, tb, pa, pb):
        qa, qb = np.asarray(ta[key], float), np.asarray(tb[key], float)
        saturated = (qa >= 1 - 1e-6) & (qb >= 1 - 1e-6)
        return qa, qb, pa * qa - pb * qb, 0.0, saturated
    return split


def _mean_terms(key: str, sign: float = 1.0, rest: str | None = None, mean: bool = True):
    """score = sign · mean_c trace[key] (the sum with ``mean=False``) + trace[rest]."""
    def split(ta, tb, pa, pb):
        qa, qb = np.asarray(ta[key], float), np.asarray(tb[key], float)
        remainder = float(ta[rest]) - float(tb[rest]) if rest else 0.0
        scale = qa.size if mean else 1
        return qa, qb, sign * (qa - qb) / scale, remainder, np.zeros(qa.size, bool)
    return split


def _prior_terms(key: str):
    """score = Σ_c π_c trace[key]_c."""
    def split(ta, tb, pa, pb):
        qa, qb = np.asarray(ta[key], float), np.asarray(tb[key], float)
        return qa, qb, pa * qa - pb * qb, 0.0, np.zeros(qa.size, bool)
    return split


def _nce_terms(ta, tb, pa, pb):
    """NCE = Σ_{c,z} P(c, z) log P(c | z): class c's row of that sum."""
    def rows(trace):
        joint, cond = np.asarray(trace["joint"], float), np.asarray(trace["p_target_given_source"], float)
        logs = np.log(np.where(cond > 0, cond, 1.0))
        return (np.where(joint > 0, joint * logs, 0.0)).sum(axis=1)
    qa, qb = rows(ta), rows(tb)
    return qa, qb, qa - qb, 0.0, np.zeros(qa.size, bool)


def _nc_terms(ta, tb, pa, pb):
    """NC = 1 / (1 + Σ_c NC1_c): 1/(1+x) − 1/(1+y) = (y − x)/((1+x)(1+y)) splits exactly over the shares."""
    qa, qb = np.asarray(ta["nc1_per_class"], float), np.asarray(tb["nc1_per_class"], float)
    scale = (1.0 + qa.sum()) * (1.0 + qb.sum())
    return qa, qb, (qb - qa) / scale, 0.0, np.zeros(qa.size, bool)


def _face_terms(ta, tb, pa, pb):
    """FaCe = r/(r + w) + λ·fairness with w = Σ_c π_c spread_c (r: rank of the between-class scatter, read
    back from the trace): the variance-collapse part splits over the class spreads like NC, the fairness
    difference is the remainder. Where the two ranks differ the whole difference is the remainder."""
    qa, qb = np.asarray(ta["class_spread"], float), np.asarray(tb["class_spread"], float)
    wa, wb = float(pa @ qa), float(pb @ qb)
    va, vb = float(ta["variance_collapse"]), float(tb["variance_collapse"])
    ra = va * wa / (1 - va) if va < 1 else math.inf
    rb = vb * wb / (1 - vb) if vb < 1 else math.inf
    fair = float(ta["fairness_weight"]) * float(ta["fairness"]) - float(tb["fairness_weight"]) * float(tb["fairness"])
    if not (math.isfinite(ra) and math.isfinite(rb)) or abs(ra - rb) > 1e-6 * max(ra, rb, 1.0):
        return qa, qb, np.zeros(qa.size), (va - vb) + fair, np.zeros(qa.size, bool)
    r = 0.5 * (ra + rb)
    contributions = r * (pb * qb - pa * qa) / ((r + wa) * (r + wb))
    return qa, qb, contributions, fair, np.zeros(qa.size, bool)


# metric -> (per-class term as shown, its direction, split(trace_a, trace_b, priors_a, priors_b)
#            -> (terms_a, terms_b, contributions, remainder, saturated))
_CLASS_SPLITS: dict[str, tuple[str, bool, Callable]] = {
    "sfda": ("mean true-class posterior", True, _posterior_terms("class_posterior")),
    "ncm_softmax": ("mean true-class posterior", True, _posterior_terms("class_posterior")),
    "logme": ("one-vs-rest evidence", True, _mean_terms("evidence")),
    "gbc": ("overlap with other classes", False, _mean_terms("per_class_overlap", sign=-1.0, mean=False)),
    "nc": ("NC1 share", False, _nc_terms),
    "face": ("within-class spread", False, _face_terms),
    "leep": ("mean log expected prob.", True, _prior_terms("per_class_log_likelihood")),
    "nce": ("class row of −H(Y|Z)", True, _nce_terms),
    "transrate": ("class coding rate", False, _mean_terms("class_rates", sign=-1.0, rest="global_rate")),
}


def class_terms(metric: str, result_a, result_b, priors_a, priors_b) -> ClassTerms | None:
    """``metric`` split by class for results A and B (:class:`~transvis.metrics.MetricResult` with their
    traces; ``priors_*`` [C] the class frequencies each was scored on); None when the metric does not split
    by class or a trace lacks what the split reads."""
    split = _CLASS_SPLITS.get(metric)
    if split is None or result_a is None or result_b is None:
        return None
    term, higher_better, fn = split
    pa, pb = np.asarray(priors_a, float), np.asarray(priors_b, float)
    try:
        qa, qb, contributions, remainder, saturated = fn(result_a.trace, result_b.trace, pa, pb)
    except (KeyError, TypeError, ValueError):
        return None
    contributions = np.asarray(contributions, float)
    if contributions.shape != pa.shape or not np.all(np.isfinite(contributions)):
        return None
    if not _higher_is_better(metric):
        contributions, remainder = -contributions, -remainder
    return ClassTerms(metric, term, higher_better, np.asarray(qa, float), np.asarray(qb, float), contributions,
                      float(remainder), np.asarray(saturated, bool))


def class_contributions(table, a: str, b: str, priors: Mapping[str, np.ndarray],
                        metrics: Sequence[str] | None = None) -> dict[str, ClassTerms]:
    """``{metric: ClassTerms}`` for every metric of ``table`` that splits by class and scored both models
    (``priors`` {model: [C] class frequencies})."""
    out = {}
    for metric in (metrics if metrics is not None else table.metrics):
        per_model = table.results.get(metric, {})
        terms = class_terms(metric, per_model.get(a), per_model.get(b), priors[a], priors[b])
        if terms is not None:
            out[metric] = terms
    return out


def class_share_table(terms: Mapping[str, ClassTerms], class_names: Sequence[str],
                      metric_label: Label = _display) -> pd.DataFrame:
    """[classes × metrics] each class's share of the metric's per-class difference (+ favours A)."""
    return pd.DataFrame({metric_label(m): t.shares for m, t in terms.items()}, index=list(class_names))


def class_ranking(terms: Mapping[str, ClassTerms], class_names: Sequence[str], leader: str = "A") -> pd.DataFrame:
    """One row per class, the classes that carry ``leader``'s lead first: ``mean share`` (mean over the
    metrics that split by class of the class's share, + favours A), ``favours`` ("A", "B" or "neither"),
    ``metrics for A`` / ``metrics for B`` (how many metrics' contributions of this class favour each), and
    ``largest`` (the metric where the class's share is largest in magnitude). Ties in mean share keep class
    order. Empty when no metric splits by class or no class differs."""
    informative = {m: t for m, t in terms.items() if np.abs(t.contributions).sum() > 0}
    if not informative:
        return pd.DataFrame(columns=["mean share", "favours", "metrics for A", "metrics for B", "largest"])
    shares = np.vstack([t.shares for t in informative.values()])  # [M, C]
    mean = shares.mean(axis=0)
    metrics = list(informative)
    scale = tolerance(mean.tolist(), rtol=1e-9, atol=1e-12)
    favours = np.where(mean > scale, "A", np.where(mean < -scale, "B", "neither"))
    frame = pd.DataFrame({
        "mean share": mean,
        "favours": favours,
        "metrics for A": (shares > 0).sum(axis=0),
        "metrics for B": (shares < 0).sum(axis=0),
        "largest": [metrics[int(i)] for i in np.abs(shares).argmax(axis=0)],
    }, index=pd.Index(list(class_names), name="class"))
    sign = 1.0 if leader == "A" else -1.0
    order = np.argsort(-sign * mean, kind="stable")
    return frame.iloc[order]


# -- flags ----------------------------------------------------------------------------------------------

def confmix_saturation(weights, rtol: float = 1e-6) -> tuple[int, float, int, float]:
    """``(samples at the maximum, maximum, samples at the minimum, minimum)`` of ConfMix weights [N] (equal
    within ``rtol``): with posteriors saturated at 0 or 1 the weights take exactly two values, e/(e + C − 1)
    and 1/(e + C − 1), and ordering samples by them is arbitrary."""
    w = np.asarray(weights, dtype=float)
    hi, lo = float(w.max()), float(w.min())
    return (int(np.isclose(w, hi, rtol=rtol, atol=0).sum()), hi, int(np.isclose(w, lo, rtol=rtol, atol=0).sum()), lo)


def pair_flags(table, a: str, b: str, comparisons: Sequence[MetricComparison],
               terms: Mapping[str, ClassTerms], class_names: Sequence[str], *,
               model_label: Label = str, metric_label: Label = _display, saturation_share: float = 0.05,
               degenerate: bool = True) -> list[str]:
    """Plain sentences wherever a view of this pair cannot inform: degenerate scores, metrics whose scores
    tie exactly, ConfMix weights saturated (≥ ``saturation_share`` of the samples at one bound) and classes
    whose per-class term is saturated in both models."""
    flags = []
    names = {"A": model_label(a), "B": model_label(b)}
    for c in comparisons if degenerate else ():
        for model, reason in c.degenerate.items():
            flags.append(f"{metric_label(c.metric)} is degenerate for {model_label(model)}: {reason}")
    tied = [metric_label(c.metric) for c in comparisons if c.favours is None]
    if tied:
        flags.append(f"Equal scores (no information about this pair): {', '.join(tied)}.")
    for model in (a, b):
        result = table.results.get("sfda", {}).get(model)
        weights = None if result is None else result.trace.get("mixing_weights")
        if weights is None or np.asarray(weights).size == 0:
            continue
        at_hi, hi, at_lo, lo = confmix_saturation(weights)
        n = np.asarray(weights).size
        if max(at_hi, at_lo) >= saturation_share * n:
            flags.append(
                f"ConfMix weights of {model_label(model)} saturate: {at_hi:,} of {n:,} samples sit at the "
                f"maximum {hi:.3g} and {at_lo:,} at the minimum {lo:.3g} (posteriors of 1 or 0), so ordering "
                "samples by them is arbitrary; the hardest samples are chosen by the nearest-mean margin instead.")
    for metric, t in terms.items():
        if t.saturated.any():
            classes = ", ".join(str(class_names[i]) for i in np.flatnonzero(t.saturated))
            flags.append(f"{metric_label(metric)}: {classes} saturated in both {names['A']} and {names['B']} "
                         f"({t.term} ≈ 1): carries no difference.")
    return flags


# -- the whole answer -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FamilyVerdict:
    """One family's verdict: how many of its metrics favour each model, beyond noise and in all."""

    family: str
    metrics: tuple[str, ...]
    for_a: int
    for_b: int
    beyond_a: int
    beyond_b: int

    @property
    def leader(self) -> str | None:
        """"A", "B" or None (as many metrics beyond noise for each, and as many in all)."""
        key = (self.beyond_a - self.beyond_b, self.for_a - self.for_b)
        return "A" if key > (0, 0) else "B" if key < (0, 0) else None


@dataclass(frozen=True)
class PairExplanation:
    """What :func:`explain_pair` returns: the ``answer`` (one paragraph, the verdict first), the metrics
    (:class:`MetricComparison`, strongest first), the ground truth (or None), the families, the per-class
    terms ``{metric: ClassTerms}`` with the classes ranked (:func:`class_ranking`), and the ``flags``."""

    a: str
    b: str
    leader: str | None
    answer: str
    comparisons: list[MetricComparison]
    groundtruth: GroundTruthComparison | None
    families: list[FamilyVerdict]
    terms: dict[str, ClassTerms]
    classes: pd.DataFrame
    flags: list[str]
    class_names: list[str]

    def reasons(self, k: int = 3, metric_label: Label = _short, model_label: Label = str) -> list[str]:
        """The ``k`` classes that carry the leader's lead (fewer when fewer favour it), one sentence each with
        its numbers: how many split metrics the class favours the leader on, and its three largest shares
        (signed so that + is in the leader's favour)."""
        out = []
        leader = self.leader or "A"
        name_of = model_label(self.a if leader == "A" else self.b)
        for name, row in self.classes.head(k).iterrows():
            if row["favours"] != leader:
                break
            c = self.class_names.index(name)
            parts = []
            for metric in sorted(self.terms, key=lambda m: -abs(self.terms[m].shares[c]))[:3]:
                t = self.terms[metric]
                share = t.shares[c] if leader == "A" else -t.shares[c]  # + = for the leader
                parts.append(f"{metric_label(metric)} {t.term} {t.terms_a[c]:.3g} vs {t.terms_b[c]:.3g} "
                             f"({share:+.0%} of its per-class difference)")
            out.append(f"**{name}** favours {name_of} on {int(row[f'metrics for {leader}'])} of "
                       f"{len(self.terms)} split metrics ({model_label(self.a)} vs {model_label(self.b)}): "
                       + "; ".join(parts) + ".")
        return out


def explain_pair(table, a: str, b: str, class_names: Sequence[str], priors: Mapping[str, np.ndarray], *,
                 metrics: Sequence[str] | None = None, groundtruth: Mapping[str, float] | None = None,
                 groundtruth_n: Mapping[str, int] | None = None, model_label: Label = str,
                 metric_label: Label = _display, groundtruth_label: str = "ground truth",
                 flag_degenerate: bool = True) -> PairExplanation:
    """Why ``a`` ranks above ``b`` — or does not — on ``table`` (a :class:`~transvis.ranking.RankingTable`;
    ground truth from the table unless given). ``priors`` {model: [C] class frequencies}. The leader is the
    model ahead beyond noise on more metrics (then ahead on more metrics at all); None when they split evenly.
    ``flag_degenerate=False`` leaves degenerate scores out of the flags (for a caller that shows them already)."""
    comparisons = compare_metrics(table, a, b, metrics)
    gt = compare_groundtruth(groundtruth if groundtruth is not None else table.groundtruth,
                             groundtruth_n if groundtruth_n is not None else table.groundtruth_n, a, b)
    for_a = sum(c.favours == "A" for c in comparisons)
    for_b = sum(c.favours == "B" for c in comparisons)
    beyond_a = sum(c.favours == "A" and c.beyond_noise is True for c in comparisons)
    beyond_b = sum(c.favours == "B" and c.beyond_noise is True for c in comparisons)
    key = (beyond_a - beyond_b, for_a - for_b)
    leader = "A" if key > (0, 0) else "B" if key < (0, 0) else None
    names = {"A": model_label(a), "B": model_label(b)}
    families = []
    for family in FAMILY_TITLES:
        members = [c for c in comparisons if c.family == family]
        if members:
            families.append(FamilyVerdict(
                family, tuple(c.metric for c in members), sum(c.favours == "A" for c in members),
                sum(c.favours == "B" for c in members),
                sum(c.favours == "A" and c.beyond_noise is True for c in members),
                sum(c.favours == "B" and c.beyond_noise is True for c in members)))
    terms = class_contributions(table, a, b, priors, [c.metric for c in comparisons])
    classes = class_ranking(terms, class_names, leader or "A")
    flags = pair_flags(table, a, b, comparisons, terms, class_names, model_label=model_label,
                       metric_label=metric_label, degenerate=flag_degenerate)
    answer = _answer(comparisons, gt, leader, names, for_a, for_b, beyond_a, beyond_b, groundtruth_label)
    return PairExplanation(a, b, leader, answer, comparisons, gt, families, terms, classes, flags,
                           [str(c) for c in class_names])


def _answer(comparisons, gt, leader, names, for_a, for_b, beyond_a, beyond_b, gt_label) -> str:
    n = len(comparisons)
    if not n:
        return f"No metric scored both {names['A']} and {names['B']}."
    noise_known = sum(c.beyond_noise is not None for c in comparisons)
    if leader is None:
        head = (f"Neither ranks above the other: {names['A']} is ahead on {for_a} and {names['B']} on {for_b} of "
                f"{n} metrics ({beyond_a} and {beyond_b} beyond the noise)")
    else:
        lead, other = names[leader], names["B" if leader == "A" else "A"]
        ahead, beyond = (for_a, beyond_a) if leader == "A" else (for_b, beyond_b)
        against = beyond_b if leader == "A" else beyond_a
        head = f"{lead} is ahead of {other} on {ahead} of {n} metrics; {beyond} of those differences exceed the noise"
        if noise_known < n:
            head += f" (noise estimated for {noise_known})"
        if against:
            head += f", and {other} is ahead beyond noise on {against}"
        if beyond == 0:
            head += " — within noise, this is a tie"
    if gt is None:
        tail = f". No {gt_label} for both models."
    else:
        values = f"{gt.accuracy_a:.1%} vs {gt.accuracy_b:.1%}"
        if gt.favours is None:
            tail = f". {gt_label.capitalize()}: equal ({values})."
        else:
            gt_leader = names[gt.favours]
            noise = {True: "beyond its noise", False: "within its noise", None: "test sizes unknown"}[gt.beyond_noise]
            if leader is None:
                agree = f"{gt_label} favours {gt_leader}"
            elif gt.beyond_noise is False:
                agree = f"{gt_label} cannot tell them apart"
            else:
                agree = f"{gt_label} {'agrees' if gt.favours == leader else 'disagrees'}"
            tail = f"; {agree} ({values}, {noise})."
    return head + tail


# -- rank table order -----------------------------------------------------------------------------------

def metrics_by_tau(table, metrics: Sequence[str] | None = None) -> list[str]:
    """``metrics`` (default every metric of ``table``) by weighted τ with the ground truth, highest first;
    metrics without τ last, in their given order."""
    metrics = list(metrics if metrics is not None else table.metrics)
    taus = table.weighted_tau
    with_tau = [m for m in metrics if math.isfinite(float(taus.get(m, math.nan)))]
    without = [m for m in metrics if m not in with_tau]
    return sorted(with_tau, key=lambda m: -float(taus[m])) + without


def groundtruth_rank(accuracies: Mapping[str, float], n_test: Mapping[str, int] | None, model: str,
                     *, level: float = 0.95) -> tuple[int, int, int] | None:
    """``(best, worst, n)``: the ranks ``model``'s accuracy could hold given the binomial noise (as
    :func:`transvis.headline.rank_range` for scores); without test sizes only equal accuracies share ranks."""
    from transvis.headline import accuracy_fraction
    from transvis.uncertainty import accuracy_ahead

    acc = accuracy_fraction(accuracies)
    if model not in acc:
        return None
    n = len(acc)
    best = worst = 0
    for other, value in acc.items():
        if other == model:
            continue
        equal = abs(value - acc[model]) <= tolerance([value, acc[model]], rtol=RTOL)
        if n_test and not equal:
            above = accuracy_ahead(value, acc[model], n_test.get(other), n_test.get(model), level=level)
            below = accuracy_ahead(acc[model], value, n_test.get(model), n_test.get(other), level=level)
        else:
            above, below = (value > acc[model] and not equal), (value < acc[model] and not equal)
        best += bool(above)
        worst += bool(below)
    return 1 + best, n - worst, n


# -- hardest samples ------------------------------------------------------------------------------------

def nearest_mean_margin(features, labels, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(margin [N], nearest other class [N])``: for each sample, squared distance to the nearest *other*
    class mean minus squared distance to its own class mean (Euclidean, in the features' units). Negative =
    nearer another class's mean than its own (a nearest-class-mean error); small = hard. Continuous, so it
    does not tie where saturated posteriors (and the ConfMix weights built on them) do."""
    x = np.asarray(features, dtype=float)
    y = np.asarray(labels, dtype=np.int64)
    c = int(n_classes if n_classes is not None else y.max() + 1)
    counts = np.bincount(y, minlength=c).astype(float)
    means = np.zeros((c, x.shape[1]))
    np.add.at(means, y, x)
    means /= np.maximum(counts, 1.0)[:, None]
    d2 = (x * x).sum(1)[:, None] - 2.0 * x @ means.T + (means * means).sum(1)[None, :]  # [N, C]
    own = d2[np.arange(y.size), y]
    d2[np.arange(y.size), y] = np.inf
    d2[:, counts == 0] = np.inf
    nearest = d2.argmin(axis=1)
    return d2[np.arange(y.size), nearest] - own, nearest
