"""𝒩LEEP: Gaussian-mixture LEEP (Li, Jia, Zhu, Wang, Kuo, Ranking Neural Checkpoints, CVPR 2021).

LEEP needs a source classifier; 𝒩LEEP replaces it by an unsupervised one fitted on the target features:

    Z = PCA(X) keeping 80% of the variance
    θ(x) = posterior over the K = ratio·C components of a Gaussian mixture fitted on Z
    𝒩LEEP = LEEP(θ, y) = (1/N) Σ_i log Σ_k P(y_i | k) θ_k(x_i)

The mixture makes the score depend on the EM initialisation, hence the explicit ``seed``.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._contract import MetricResult, MetricSpec, register
from ._degeneracy import FIX_STANDARDISE, fmt, label_entropy, near
from ._mixture import fit_full_mixture, pca_scores
from ._stats import feature_rms, metric_stats
from ._validation import scale_error
from .leep import conditional_given_source, source_joint

VARIANTS = ("log", "official")
# reg_covar values tried in turn when EM meets a singular component covariance (sklearn's default first).
_REG_COVAR_LADDER = (1e-6, 1e-4, 1e-2)


def _reduce(stats) -> np.ndarray:
    """PCA(n_components=0.8) scores [N, d] as the official recipe's scikit-learn call computes them (up to each
    column's sign), from the eigendecomposition of S_T the other metrics share (``_mixture.pca_scores``).

    Features with no variance at all cannot be reduced; they give a single zero column (every sample
    is then the same point and the mixture is uninformative, as it should be).
    """
    if not np.trace(np.asarray(stats.total_scatter)) > 0:
        return np.zeros((stats.n_samples, 1))
    return pca_scores(stats, 0.8)


def _fit_mixture(reduced: np.ndarray, n_components: int, seed: int):
    """Fit the mixture (scikit-learn's EM, ``_mixture.fit_full_mixture``); on singular covariances retry with a
    larger ``reg_covar``.

    Returns (posteriors [N, K], reg_covar used, fallback note or None, converged).
    """
    last_error = None
    for reg in _REG_COVAR_LADDER:
        try:
            with warnings.catch_warnings():
                # k-means may find fewer distinct clusters than components; the mixture is still usable
                warnings.simplefilter("ignore", ConvergenceWarning)
                fit = fit_full_mixture(reduced, n_components, seed=seed, reg_covar=reg)
        except ValueError as err:  # "ill-defined empirical covariance"
            last_error = err
            continue
        if np.all(np.isfinite(fit.posteriors)):
            note = None if reg == _REG_COVAR_LADDER[0] else f"reg_covar raised to {reg:g} (singular covariances)"
            return fit.posteriors, reg, note, fit.converged
    raise ValueError(
        f"𝒩LEEP's Gaussian mixture could not be fitted even with reg_covar={_REG_COVAR_LADDER[-1]:g} "
        f"({last_error}). Use a smaller component_ratio or more samples."
    )


def nleep(features, labels, *, stats=None, seed: int = 0, component_ratio: float = 5,
          variant: str = "log") -> MetricResult:
    """𝒩LEEP of features [N, D] for labels [N] (Li et al., CVPR 2021).

    Recipe (refvectors README "NLEEP", the official SFDA ``NLEEP`` with a seed):
    ``PCA(n_components=0.8)`` → ``GaussianMixture(n_components=component_ratio·C, random_state=seed)``
    with scikit-learn's other defaults (full covariances, k-means init, reg_covar 1e-6) → posteriors θ →
    LEEP on θ. Both steps are computed as scikit-learn computes them, with less work (``_mixture.py``: PCA from
    the shared eigendecomposition, scikit-learn's own k-means, an EM that skips zero responsibilities and the
    repeated final E-step); the posteriors agree with scikit-learn's to round-off.

    Variants
    --------
    ``"log"`` (default): the paper's 𝒩LEEP, mean log expected empirical prediction (≤ 0).
    ``"official"``: the SFDA-family code's value, the mean expected empirical prediction **without the
    log** (in (0, 1]); the official code also has no seed.

    Fallbacks (the official code crashes instead), each recorded in ``trace["fallback"]``:
    - K = round(component_ratio·C) larger than N: K is lowered to N (each sample may own a component).
    - EM meets a singular component covariance: ``reg_covar`` is raised to 1e-4, then 1e-2.
    - Features without any variance: PCA is skipped and Z is one zero column.

    Not scale invariant in general: ``reg_covar`` is an absolute variance floor (features whose variance is
    below it give uniform posteriors, a score of −H(labels) = log(1/C) for balanced classes, and far above it
    the fallback ladder can no longer rescue a singular component). Features of extreme magnitude (largest |x|
    outside [2^-64, 2^64]) therefore raise a ``ValueError`` that asks for standardised features.

    Degenerate (``compute`` flags it): the mean log expected prediction within a relative 1e-6 of −H(labels)
    (uniform posteriors: the mixture carries no class information) or of 0 (every component holds one class).

    trace: ``pca_dims`` (components kept by PCA(0.8)), ``n_components`` (K used),
    ``requested_components``, ``component_to_class`` [C, K] P(y | k), ``component_weights`` [K] P(k),
    ``mean_log_prob`` and ``mean_prob`` (both variants' values), ``expected_prob`` [N],
    ``reg_covar``, ``converged``, ``fallback`` (None or a note).
    """
    if variant not in VARIANTS:
        raise ValueError(f"nleep variant must be one of {VARIANTS}; got {variant!r}.")
    if not component_ratio > 0:
        raise ValueError(f"component_ratio must be positive; got {component_ratio!r}.")
    stats = metric_stats(features, labels, stats)
    if stats.unit_scale != 1.0:
        raise scale_error("NLEEP", stats.unit_scale,
                          "regularises its Gaussian mixture with an absolute reg_covar (1e-6, then 1e-4, 1e-2)")
    notes = []
    reduced = _reduce(stats)
    if not np.any(reduced):
        notes.append("features have no variance; PCA skipped")
    requested = max(1, int(round(component_ratio * stats.n_classes)))
    n_components = min(requested, stats.n_samples)
    if n_components < requested:
        notes.append(f"n_components lowered from {requested} to N={stats.n_samples}")
    posteriors, reg, reg_note, converged = _fit_mixture(reduced, n_components, seed)
    if reg_note:
        notes.append(reg_note)

    joint = source_joint(posteriors, stats)
    cond = conditional_given_source(joint)
    expected = np.einsum("ik,ik->i", posteriors, cond[stats.labels])
    mean_log = float(np.log(np.maximum(expected, np.finfo(float).tiny)).mean())
    mean_prob = float(expected.mean())
    score = mean_log if variant == "log" else mean_prob
    return MetricResult(
        "nleep",
        score,
        {
            "pca_dims": int(reduced.shape[1]),
            "n_components": n_components,
            "requested_components": requested,
            "component_to_class": cond,
            "component_weights": joint.sum(axis=0),
            "mean_log_prob": mean_log,
            "mean_prob": mean_prob,
            "expected_prob": expected,
            "reg_covar": reg,
            "converged": converged,
            "fallback": "; ".join(notes) or None,
        },
        variant=variant,
        params={"seed": seed, "component_ratio": component_ratio},
    )


def nleep_degeneracy(result: MetricResult, stats) -> str | None:
    """Mean log expected prediction at −H(labels) (uniform posteriors) or at 0 (one class per component)."""
    entropy = label_entropy(stats.priors)
    mean_log = float(result.trace.get("mean_log_prob", result.score))
    if near(mean_log, -entropy, entropy):
        reg = float(result.trace.get("reg_covar", _REG_COVAR_LADDER[0]))
        rms = feature_rms(stats)
        if rms**2 <= reg:
            why = (f"the features' variance (RMS ~{rms:.1e}) is below the mixture's absolute reg_covar {reg:g}, which "
                   f"then swamps every component. {FIX_STANDARDISE}")
        else:
            why = ("no mixture component prefers a class in the PCA(0.8) space, so the features carry no class "
                   "information here. Check the extraction layer and the labels.")
        return (f"NLEEP is {fmt(result.score)}, its no-information value (mean log prediction −H(labels) = "
                f"{fmt(-entropy)}, log(1/C) for balanced classes): the mixture posteriors are uniform over the "
                f"classes because {why}")
    if near(mean_log, 0.0, entropy):
        lowered = "n_components lowered" in (result.trace.get("fallback") or "")
        why = (f"with K = N = {stats.n_samples} components every sample owns a component. Use more samples per class."
               if lowered else "every mixture component holds a single class, so the score cannot order models "
               "that all separate the classes. Score a harder target set or lower component_ratio.")
        return f"NLEEP is {fmt(result.score)}, at its maximum (saturated): {why}"
    return None


register(MetricSpec(
    name="nleep", fn=nleep, aliases=("n_leep",),
    display_name="NLEEP",
    opt_in="a 5C-component Gaussian mixture per model: minutes on real pools",
    summary="LEEP with a Gaussian mixture on PCA-reduced features as the pseudo source classifier.",
    citation="Li, Jia, Zhu, Wang, Kuo, Ranking Neural Checkpoints, CVPR 2021",
    variants=VARIANTS, default_variant="log",
    stochastic=True,
    degeneracy=nleep_degeneracy,
))
