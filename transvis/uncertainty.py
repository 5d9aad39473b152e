"""How much of a ranking the data can support: sampling noise of every score, and intervals for weighted τ.

**Score noise: a stratified delete-d jackknife.** A transferability score is a statistic of the N target
samples; another draw of N samples from the same task would give another score. We estimate that sampling
noise by re-scoring ``R`` random subsets that keep a fraction ``keep`` of each class (stratified, so every
class stays and labels stay contiguous), drawn with a fixed seed, and scale the subsets' spread to the full
sample (Shao & Wu, 1989, "A general theory for jackknife variance estimation", Ann. Statist. 17(3)):

    Var(θ_N) ≈ m / (N − m) · (1/R) Σ_r (θ_r − θ̄)²,     m = kept samples, θ_r = score of subset r.

With ``keep = 0.8`` the factor is 4 (standard error = 2 × the subsets' standard deviation).

Why subsets, not a bootstrap: a bootstrap replicate repeats samples, and the in-sample metrics (SFDA, PED,
NCM softmax: LDA fitted and evaluated on the same samples; H-score: a covariance inverse) read duplicates as
extra separability, which inflates exactly the scores that are already optimistic. A subset has no
duplicates. The delete-d jackknife is consistent for smooth statistics and, when d is a fixed fraction of N,
also for non-smooth ones (medians, quantiles, argmax-driven terms).

Assumptions, stated where the numbers are shown: (1) the target samples are i.i.d. draws from the task;
(2) the noise is that of the *target sample* — it does not include the randomness of pre-training or of
feature extraction; (3) ``m/N`` = 0.8 is close enough to 1 that the metric behaves at ``m`` as it does at
``N`` (metrics whose level depends strongly on N/D, such as SFDA near N ≈ D, change level on subsets; the
spread, not the level, is what is used); (4) with R = 10 subsets the standard error itself is uncertain by
about ±22 %, which is why decisions use Student's t with R − 1 degrees of freedom, not the normal quantile.

**Deletion replicates.** Refitting a metric on every subset costs R times about 0.8 of a scoring. A metric
may instead score the subsets from its full fit (``MetricSpec.deletion_replicates``): each sample's effect on
the score when it alone is left out, computed once, summed over the samples a subset leaves out. LogME does
this with the exact single-deletion effect at its fitted α, β (``logme.logme_deletion_replicates``: the leverage
factor 1/(1 − βh) keeps the in-sample head's optimism that a first-order, infinitesimal-jackknife replicate
would miss); what it leaves out is the re-estimation of α, β and the left-out samples' interactions, so it
applies only while the heads' effective parameters are a small fraction of N. ``Resampling(refit=True)``
refits every metric; :attr:`ScoreNoise.method` records which was done.

**Paired differences.** Models scored on the same samples (same labels in the same order) get the *same*
subsets, so "is A ahead of B?" uses the standard error of the difference θ_A − θ_B over the shared subsets,
which removes the noise both scores share (the same hard samples lower both). Models on different samples
are compared with the independent combination √(se_A² + se_B²).

**Weighted τ interval.** The weighted Kendall τ of a metric against ground-truth accuracies has two noise
sources: the scores' (above) and the ground truth's own (an accuracy measured on ``n_test`` samples is a
binomial proportion). Each of ``draws`` draws takes one subset index ``r`` (the same for every model, which
keeps the scores' shared noise), rescales it to the full-sample spread (θ̂ + √factor · (θ_r − θ̄)), draws
each accuracy as Binomial(n_test, acc)/n_test (independent across models: conservative when the models were
tested on the same samples, whose errors correlate), and computes weighted τ. The interval is the draws'
central ``level`` quantiles. Without ``n_test`` only the scores' noise enters (and the result says so).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from transvis.ordering import RTOL, display_order, tolerance

__all__ = [
    "DEFAULT_REPLICATES",
    "DEFAULT_RESAMPLING",
    "Resampling",
    "ScoreNoise",
    "TauInterval",
    "accuracy_ahead",
    "sample_signature",
    "tau_interval",
    "weighted_tau_batch",
]

DEFAULT_REPLICATES = 10


@functools.lru_cache(maxsize=64)
def _t_quantile(level: float, dof: int) -> float:
    """Student's t quantile, memoised: rank ranges and noise tiers ask for it once per pair of models and
    metric, thousands of times in one page run."""
    import scipy.stats

    return float(scipy.stats.t.ppf(0.5 + level / 2.0, max(int(dof), 1)))


def sample_signature(labels) -> str:
    """A short id of a label vector: models with equal signatures were scored on the same samples (as far
    as the labels can tell), so they share subsets and their differences are paired."""
    import hashlib

    labels = np.ascontiguousarray(np.asarray(labels, dtype=np.int64))
    return hashlib.sha1(labels.tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Resampling:
    """The subsets that measure score noise (see the module docstring).

    n_replicates : R, how many subsets (≥ 2); keep : fraction of each class kept in a subset (0 < keep < 1);
    seed : the subsets are a pure function of (labels, seed); level : two-sided confidence level of the
    intervals and of "beyond noise" decisions; refit : True to refit every metric on every subset, False
    (default) to let a metric with deletion replicates (``MetricSpec.deletion_replicates``, e.g. LogME) score
    the subsets from its full fit (see the module docstring).
    """

    n_replicates: int = DEFAULT_REPLICATES
    keep: float = 0.8
    seed: int = 0
    level: float = 0.95
    refit: bool = False

    def __post_init__(self):
        if isinstance(self.n_replicates, bool) or not isinstance(self.n_replicates, (int, np.integer)) \
                or self.n_replicates < 2:
            raise ValueError(f"n_replicates must be an integer ≥ 2 (subsets to estimate noise from); "
                             f"got {self.n_replicates!r}. Use 0 resamples to switch noise estimation off.")
        if not (isinstance(self.keep, (int, float)) and 0.0 < float(self.keep) < 1.0):
            raise ValueError(f"keep must be a fraction strictly between 0 and 1 (e.g. 0.8); got {self.keep!r}.")
        if not (isinstance(self.level, (int, float)) and 0.5 <= float(self.level) < 1.0):
            raise ValueError(f"level must be a confidence level in [0.5, 1), e.g. 0.95; got {self.level!r}.")
        if not isinstance(self.refit, (bool, np.bool_)):
            raise ValueError(f"refit must be True or False; got {self.refit!r}.")

    def subsets(self, labels) -> list[np.ndarray]:
        """``R`` sorted index arrays, each keeping ``round(keep · n_c)`` samples of every class ``c`` (at least
        2 and at most ``n_c − 1``, so every class keeps a within-class spread and every subset differs from the
        full sample). Classes with fewer than 3 samples are kept whole."""
        labels = np.asarray(labels)
        rng = np.random.default_rng(self.seed)
        by_class = [np.flatnonzero(labels == c) for c in np.unique(labels)]
        out = []
        for _ in range(self.n_replicates):
            kept = []
            for members in by_class:
                n_c = len(members)
                if n_c < 3:
                    kept.append(members)
                    continue
                m_c = min(max(int(round(self.keep * n_c)), 2), n_c - 1)
                kept.append(rng.choice(members, size=m_c, replace=False))
            out.append(np.sort(np.concatenate(kept)))
        return out

    @staticmethod
    def variance_factor(n_samples: int, n_kept: int) -> float:
        """``m / (N − m)``: scales the subsets' variance to the full sample's (delete-d jackknife)."""
        if n_kept >= n_samples:
            return 0.0
        return n_kept / (n_samples - n_kept)

    def critical_value(self) -> float:
        """Student's t quantile for ``level`` with R − 1 degrees of freedom."""
        return _t_quantile(self.level, self.n_replicates - 1)

    def to_dict(self) -> dict:
        return {"n_replicates": int(self.n_replicates), "keep": float(self.keep), "seed": int(self.seed),
                "level": float(self.level), "refit": bool(self.refit)}


@dataclass
class ScoreNoise:
    """Sampling noise of one metric's scores over a pool (see the module docstring).

    estimate : {model: full-sample score}; replicates : {model: [R] subset scores} (NaN where a subset
    failed); factor : {model: m / (N − m)}; signature : {model: sample signature} (equal = paired);
    higher_is_better : the metric's direction; resampling : the plan used; method : how the subsets were
    scored, ``"refit"`` (the metric refitted on each) or ``"deletion"`` (from the full fit's per-sample deletion
    effects, ``MetricSpec.deletion_replicates``), ``"mixed"`` when models differ.
    """

    estimate: dict[str, float]
    replicates: dict[str, np.ndarray]
    factor: dict[str, float]
    signature: dict[str, str]
    higher_is_better: bool = True
    resampling: Resampling = field(default_factory=Resampling)
    method: str = "refit"

    @property
    def models(self) -> list[str]:
        return list(self.estimate)

    def source_text(self) -> str:
        """Where the noise comes from, for a caption: ``"10 stratified subsets"``, plus how they were scored
        when not by refitting."""
        text = f"{self.resampling.n_replicates} stratified subsets"
        if self.method == "deletion":
            return text + " (scored from each sample's deletion effect on the full fit, no refit)"
        if self.method == "mixed":
            return text + " (some models' scored from deletion effects, the others refitted)"
        return text

    def _replicates(self, model: str) -> np.ndarray | None:
        values = self.replicates.get(model)
        if values is None:
            return None
        values = np.asarray(values, dtype=float)
        return values if np.isfinite(values).sum() >= 2 else None

    def se(self, model: str) -> float:
        """Standard error of the model's score (NaN when it could not be estimated)."""
        values = self._replicates(model)
        if values is None:
            return math.nan
        values = values[np.isfinite(values)]
        return math.sqrt(self.factor[model] * float(np.mean((values - values.mean()) ** 2)))

    def interval(self, model: str, score: float | None = None) -> tuple[float, float]:
        """``level`` confidence interval of the score (t quantile × se around ``score``, default the estimate)."""
        score = self.estimate[model] if score is None else float(score)
        half = self.resampling.critical_value() * self.se(model)
        return score - half, score + half

    def difference_se(self, a: str, b: str) -> float:
        """Standard error of score(a) − score(b): paired over shared subsets when both were scored on the same
        samples, else the independent combination."""
        ra, rb = self._replicates(a), self._replicates(b)
        if ra is None or rb is None:
            return math.nan
        if self.signature.get(a) == self.signature.get(b) and len(ra) == len(rb):
            both = np.isfinite(ra) & np.isfinite(rb)
            if both.sum() >= 2:
                diff = ra[both] - rb[both]
                factor = 0.5 * (self.factor[a] + self.factor[b])
                return math.sqrt(factor * float(np.mean((diff - diff.mean()) ** 2)))
        return math.hypot(self.se(a), self.se(b))

    def margin(self, a: str, b: str) -> float:
        """The smallest |score(a) − score(b)| that counts as beyond noise at ``level`` (t × se of the
        difference), never below the float tolerance of :mod:`transvis.ordering`."""
        scale = tolerance([self.estimate.get(a, 0.0), self.estimate.get(b, 0.0)], rtol=RTOL)
        se = self.difference_se(a, b)
        return max(self.resampling.critical_value() * se, scale) if math.isfinite(se) else math.nan

    def is_ahead(self, a: str, b: str, scores: Mapping[str, float] | None = None) -> bool:
        """True when model ``a`` scores better than ``b`` beyond the noise. ``scores`` (default the estimates)
        lets a dynamics frame ask with its own scores; the noise is the unperturbed features' (the frame's
        perturbation is a deterministic function of the same samples)."""
        scores = self.estimate if scores is None else scores
        sa, sb = float(scores[a]), float(scores[b])
        if not (math.isfinite(sa) and math.isfinite(sb)):
            return False
        margin = self.margin(a, b)
        if not math.isfinite(margin):
            return False
        diff = (sa - sb) if self.higher_is_better else (sb - sa)
        return diff > margin

    def noise_groups(self, scores: Mapping[str, float] | None = None) -> list[list[str]]:
        """Tiers of models that the noise cannot order: the first tier holds the best model and every model
        not beyond noise below it; the next tier starts at the best remaining model, and so on. Each tier is
        best first (ties in pool order); NaN scores are left out."""
        scores = self.estimate if scores is None else scores
        finite = {m: v for m, v in scores.items() if v is not None and math.isfinite(float(v))}
        remaining = display_order(finite, higher_is_better=self.higher_is_better)
        groups = []
        while remaining:
            leader = remaining[0]
            tier = [m for m in remaining if m == leader or not self.is_ahead(leader, m, scores)]
            groups.append(tier)
            remaining = [m for m in remaining if m not in tier]
        return groups

    def all_within_noise(self, scores: Mapping[str, float] | None = None) -> bool:
        """True when no model of the pool is beyond noise of any other (one tier)."""
        finite = [m for m, v in (self.estimate if scores is None else scores).items()
                  if v is not None and math.isfinite(float(v))]
        return len(finite) >= 2 and len(self.noise_groups(scores)) == 1

    def deviations(self, models: Sequence[str], subsets) -> np.ndarray:
        """[len(subsets), len(models)] draws of each score's deviation from its estimate: for each entry r of
        ``subsets`` (one subset index shared by every model, which keeps the noise the models share),
        √factor · (θ_r − θ̄), the subset's deviation rescaled to the full-sample spread; 0 where a model has
        no usable replicate r."""
        subsets = np.asarray(subsets, dtype=int)
        out = np.zeros((len(subsets), len(models)))
        for j, model in enumerate(models):
            values = self._replicates(model) if model in self.estimate else None
            if values is None:
                continue
            deviation = math.sqrt(self.factor[model]) * (values - float(np.nanmean(values)))
            out[:, j] = np.nan_to_num(deviation[subsets], nan=0.0)
        return out

    def draw(self, rng: np.random.Generator) -> dict[str, float]:
        """One draw of the pool's scores from their sampling distribution (see :meth:`deviations`)."""
        r = rng.integers(self.resampling.n_replicates, size=1)
        models = list(self.estimate)
        return dict(zip(models, np.asarray([self.estimate[m] for m in models]) + self.deviations(models, r)[0]))

    def to_dict(self) -> dict:
        return {
            "resampling": self.resampling.to_dict(),
            "higher_is_better": bool(self.higher_is_better),
            "method": self.method,
            "models": {
                m: {"estimate": _json_number(self.estimate[m]), "se": _json_number(self.se(m)),
                    "interval": [_json_number(v) for v in self.interval(m)],
                    "replicates": [_json_number(v) for v in np.asarray(self.replicates.get(m, []), dtype=float)],
                    "factor": float(self.factor.get(m, 0.0)), "signature": self.signature.get(m)}
                for m in self.estimate
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> ScoreNoise:
        models = data["models"]
        return cls(
            estimate={m: _from_json(v["estimate"]) for m, v in models.items()},
            replicates={m: np.array([_from_json(x) for x in v["replicates"]], dtype=float) for m, v in models.items()},
            factor={m: float(v["factor"]) for m, v in models.items()},
            signature={m: v.get("signature") for m, v in models.items()},
            higher_is_better=bool(data.get("higher_is_better", True)),
            resampling=Resampling(**data["resampling"]),
            method=str(data.get("method", "refit")),
        )


DEFAULT_RESAMPLING = Resampling()  # what the app, `demo prepare` and `transvis rank` use unless told otherwise


def _json_number(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _from_json(value) -> float:
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class TauInterval:
    """A weighted τ with its ``level`` interval. ``sources`` says which noise entered ("scores",
    "ground truth"); ``draws`` are the τ draws (same seed → same draws, so two metrics' draws are paired)."""

    tau: float
    low: float
    high: float
    level: float
    sources: tuple[str, ...]
    draws: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))

    def to_dict(self) -> dict:
        return {"tau": _json_number(self.tau), "low": _json_number(self.low), "high": _json_number(self.high),
                "level": self.level, "sources": list(self.sources)}

    def text(self) -> str:
        if not math.isfinite(self.tau):
            return "–"
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return f"{self.tau:+.2f}"
        return f"{self.tau:+.2f} [{self.low:+.2f}, {self.high:+.2f}]"


def weighted_tau_batch(scores, accuracies) -> np.ndarray:
    """``scipy.stats.weightedtau(s, a).statistic`` for every row of ``scores`` and ``accuracies`` [B, n], at once.

    The same definition as scipy's defaults (Vigna 2015; ``rank=True``: each side ranks by the decreasing
    lexicographic order of (its values, the other's), hyperbolic weigher 1/(r+1), additive pair weights
    w_i + w_j, symmetrised by averaging the two sides): per side
    τ = Σ_{i<j} w_ij sgn(x_i−x_j) sgn(y_i−y_j) / √(Σ_{i<j, x_i≠x_j} w_ij · Σ_{i<j, y_i≠y_j} w_ij).
    O(B·n²): for the few models of a pool this is ~100× faster than calling scipy per row; equal to scipy
    to ~1e-15 with and without ties (tests/unit/test_uncertainty.py). NaN where a row is constant.
    """
    x_all = np.atleast_2d(np.asarray(scores, dtype=float))
    y_all = np.atleast_2d(np.asarray(accuracies, dtype=float))
    rows, n = x_all.shape
    upper = np.triu_indices(n, 1)

    def side(x, y):
        order = np.lexsort((-y, -x), axis=-1)
        position = np.empty_like(order)
        np.put_along_axis(position, order, np.broadcast_to(np.arange(n), (rows, n)), axis=-1)
        weight = 1.0 / (position + 1.0)
        pair = (weight[:, :, None] + weight[:, None, :])[:, upper[0], upper[1]]
        dx = np.sign(x[:, :, None] - x[:, None, :])[:, upper[0], upper[1]]
        dy = np.sign(y[:, :, None] - y[:, None, :])[:, upper[0], upper[1]]
        with np.errstate(invalid="ignore", divide="ignore"):
            return (pair * dx * dy).sum(1) / np.sqrt((pair * (dx != 0)).sum(1) * (pair * (dy != 0)).sum(1))

    return (side(x_all, y_all) + side(y_all, x_all)) / 2.0


def tau_interval(scores: Mapping[str, float], accuracies: Mapping[str, float], *,
                 noise: ScoreNoise | None = None, n_test: Mapping[str, int] | None = None,
                 higher_is_better: bool = True, level: float = 0.95, draws: int = 1000,
                 seed: int = 0) -> TauInterval:
    """Weighted τ of ``scores`` against ``accuracies`` (models they share) with its interval (module
    docstring). ``noise`` adds the scores' sampling noise, ``n_test`` ({model: test samples behind the
    accuracy}) the ground truth's; with neither the interval is the point (nothing to resample)."""
    import scipy.stats

    models = [m for m in scores if m in accuracies and math.isfinite(float(scores[m]))
              and math.isfinite(float(accuracies[m]))]
    sign = 1.0 if higher_is_better else -1.0
    if len(models) < 3:
        return TauInterval(math.nan, math.nan, math.nan, level, ())

    def wtau(s, a) -> float:
        s, a = np.asarray(s, dtype=float), np.asarray(a, dtype=float)
        if np.ptp(s) == 0 or np.ptp(a) == 0:
            return math.nan
        return float(scipy.stats.weightedtau(s, a).statistic)

    s0 = [sign * float(scores[m]) for m in models]
    a0 = [float(accuracies[m]) for m in models]
    tau = wtau(s0, a0)
    sources = []
    use_noise = noise is not None and any(math.isfinite(noise.se(m)) and noise.se(m) > 0 for m in models
                                          if m in noise.estimate)
    if use_noise:
        sources.append("scores")
    counts = {}
    if n_test:
        counts = {m: int(n_test[m]) for m in models if m in n_test and n_test[m] and int(n_test[m]) > 0}
        if counts:
            sources.append("ground truth")
    if not sources:
        return TauInterval(tau, tau, tau, level, ())
    rng = np.random.default_rng(seed)
    drawn_scores = np.tile(np.asarray(s0), (draws, 1))
    if use_noise:
        drawn_scores += sign * noise.deviations(models, rng.integers(noise.resampling.n_replicates, size=draws))
    drawn_acc = np.tile(np.asarray(a0), (draws, 1))
    for j, m in enumerate(models):
        if m in counts:
            p = min(max(float(accuracies[m]), 0.0), 1.0)
            drawn_acc[:, j] = rng.binomial(counts[m], p, size=draws) / counts[m]
    out = weighted_tau_batch(drawn_scores, drawn_acc)
    finite = out[np.isfinite(out)]
    if len(finite) == 0:
        return TauInterval(tau, math.nan, math.nan, level, tuple(sources), out)
    low, high = np.quantile(finite, [0.5 - level / 2.0, 0.5 + level / 2.0])
    return TauInterval(tau, float(low), float(high), level, tuple(sources), out)


def accuracy_ahead(acc_a: float, acc_b: float, n_a: int | None, n_b: int | None, *, level: float = 0.95) -> bool | None:
    """True when accuracy ``a`` beats ``b`` beyond the binomial noise of their test sets (two-proportion z
    test at ``level``, one-sided in a's favour); None when a test-set size is unknown."""
    if not n_a or not n_b:
        return None
    import scipy.stats

    se = math.sqrt(acc_a * (1 - acc_a) / n_a + acc_b * (1 - acc_b) / n_b)
    z = float(scipy.stats.norm.ppf(0.5 + level / 2.0))
    if se == 0:
        return acc_a > acc_b
    return (acc_a - acc_b) > z * se

