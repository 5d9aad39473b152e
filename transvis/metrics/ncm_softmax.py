"""Nearest-class-mean softmax: the "LDA" score of ETran and FSP, under its honest name.

ETran (Gholami et al., ICCV 2023; ``mgholamikn/ETran:metrics.py::LDA_Score``) and FSP (Khoba et al.,
WACV 2025; ``prafful-kumar/enhancing_TE:metrics.py::LDA_Score``) follow the SFDA recipe but diagonalise
``inv(S_W^λ)·S_B`` with the *symmetric* solver ``eigh``, which returns an orthonormal V, so ``V Vᵀ = I``
and the covariance drops out: the classifier is a Euclidean nearest-class-mean softmax with priors

    p(c | x) ∝ π_c · exp((xᵀμ_c − ½‖μ_c‖²) / T)          (T = 1 in the official code)
    score = mean_i p(y_i | x_i)

The logits are computed centred on the sample mean (a class-independent shift per row), which gives the
same posteriors with better conditioning at large feature scales.
"""

from __future__ import annotations

import numpy as np
import scipy.special

from ._contract import MetricResult, MetricSpec, register
from ._degeneracy import FIX_STANDARDISE, REL_TOL, fmt
from ._stats import feature_rms, metric_stats


def ncm_posteriors(features, class_means, priors, *, temperature: float = 1.0, center=None, backend=None):
    """Posteriors [N, C] of the nearest-class-mean softmax for features [N, D], class means [C, D], priors [C].

    ``center`` [D] (default: the prior-weighted mean of the class means) is subtracted first; the
    posteriors do not depend on it.
    """
    means = np.asarray(class_means, dtype=np.float64)
    priors = np.asarray(priors, dtype=np.float64)
    center = priors @ means if center is None else np.asarray(center, dtype=np.float64)
    centred_means = means - center
    x = np.asarray(features, dtype=np.float64) - center
    dot = x @ centred_means.T if backend is None else backend.matmul(x, centred_means.T)
    logits = (dot - 0.5 * (centred_means**2).sum(axis=1)) / temperature + np.log(priors)
    return scipy.special.softmax(logits, axis=1)


def ncm_softmax(features, labels, *, stats=None, temperature: float = 1.0) -> MetricResult:
    """Mean true-class posterior of a unit-temperature nearest-class-mean softmax (ETran/FSP "LDA").

    features [N, D], labels [N]. Equals the official ``LDA_Score`` of ETran and enhancing_TE (§5.12 of
    ALGORITHMS.md). **Scale dependent**: the logits grow with the square of the feature scale, so raw CNN
    features saturate the posteriors towards one-hot (score → NCC training accuracy) and tiny-scale
    features flatten them towards the priors (score → Σ π_c²). ``temperature`` (default 1, the official
    value) divides the logits; a temperature proportional to the squared feature scale makes it scale free.

    Features of extreme magnitude (outside [2^-64, 2^64]) are divided by a power of two s first and the
    logits' scale s²/T applied after the row maximum is taken (so an overflowing factor gives the exact limit,
    one-hot posteriors = the nearest-class-mean accuracy, and an underflowing one the priors) instead of NaN.

    Degenerate (``compute`` flags it): posteriors one-hot (score ≥ 1 − 1e-6, or equal to the NCC accuracy
    within 1e-6) or equal to the priors (score = Σπ², 1/C for balanced classes).

    trace: ``class_posterior`` [C] (per-class mean true-class posterior), ``confusion`` [C, C] (row c = mean
    posterior of class c's samples), ``accuracy`` (nearest-class-mean training accuracy).
    """
    stats = metric_stats(features, labels, stats)
    temperature = float(temperature)
    if not temperature > 0:
        raise ValueError(f"temperature must be positive; got {temperature!r}. The official value is 1.0.")
    if stats.unit_scale == 1.0:
        post = ncm_posteriors(stats.centered, stats.class_means - stats.mean, stats.priors,
                              temperature=temperature, center=np.zeros(stats.n_dims), backend=stats.backend)
    else:
        post = _rescaled_posteriors(stats, temperature)
    confusion = np.asarray(stats.indicator @ post) / stats.counts[:, None]
    rows = np.arange(stats.n_samples)
    score = float(post[rows, stats.labels].mean())
    trace = {
        "class_posterior": np.diag(confusion).copy(),
        "confusion": confusion,
        "accuracy": float((post.argmax(axis=1) == stats.labels).mean()),
    }
    return MetricResult("ncm_softmax", score, trace, params={"temperature": temperature})


def _rescaled_posteriors(stats, temperature: float) -> np.ndarray:
    """The posteriors of the caller's features from their rescaled statistics (``unit_scale`` = s):
    logits = (s²/T)·a + log π with a the unit-temperature distance term of the rescaled features. The row
    maximum of a is removed before the (possibly inf or 0) factor is applied, so the limits are exact."""
    centred_means = stats.class_means - stats.mean
    a = stats.backend.matmul(stats.centered, centred_means.T) - 0.5 * (centred_means**2).sum(axis=1)
    a -= a.max(axis=1, keepdims=True)  # ≤ 0, exactly 0 at each row's maximum
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        factor = float(np.float64(stats.unit_scale) ** 2 / temperature)
        logits = np.where(a == 0.0, 0.0, a * factor) + np.log(stats.priors)
    return scipy.special.softmax(logits, axis=1)


def ncm_softmax_degeneracy(result: MetricResult, stats) -> str | None:
    """Posteriors equal to the priors, or one-hot (score ≥ 1 − 1e-6 or equal to the NCC accuracy; checked second,
    since uniform posteriors also make the score equal an accuracy, that of always predicting one class)."""
    score = result.score
    temperature = float(result.params.get("temperature", 1.0))
    confusion = result.trace.get("confusion")
    if confusion is not None and float(np.max(np.abs(np.asarray(confusion) - stats.priors))) <= REL_TOL:
        rms = feature_rms(stats)
        if rms**2 <= 1e-3 * temperature:
            why = (f"the logits are ~0: the features are tiny (RMS spread ~{rms:.1e}) for temperature "
                   f"{temperature:g}. {FIX_STANDARDISE[:-1]}, or lower the temperature.")
        else:
            why = "the class means coincide, so the features carry no class information. Check the extraction layer."
        return (f"ncm_softmax is {fmt(score)} = Σ π_c² (1/C for balanced classes), its no-information value: the "
                f"posteriors equal the class priors because {why}")
    accuracy = result.trace.get("accuracy")
    if score >= 1.0 - REL_TOL or (accuracy is not None and abs(score - float(accuracy)) <= REL_TOL):
        return (
            f"ncm_softmax is {fmt(score)} (saturated): its posteriors are one-hot, so the score is just the "
            f"nearest-class-mean training accuracy, because the logits grow with the square of the feature scale "
            f"(RMS spread ~{feature_rms(stats):.1e}) at temperature {temperature:g}. {FIX_STANDARDISE[:-1]}, or pass "
            "a temperature of the order of the squared feature scale."
        )
    return None


register(MetricSpec(
    name="ncm_softmax", fn=ncm_softmax, aliases=("lda",),
    display_name="NCM softmax (\"LDA\")", short_name="NCM softmax", in_sample_posteriors=True,
    summary="Nearest-class-mean softmax (the 'LDA' score of ETran/FSP): mean true-class posterior; scale dependent.",
    citation="Gholami et al., ETran: Energy-Based Transferability Estimation, ICCV 2023 (LDA_Score); "
             "Khoba et al., Feature Space Perturbation, WACV 2025",
    scale_invariant=False,
    degeneracy=ncm_softmax_degeneracy,
))
