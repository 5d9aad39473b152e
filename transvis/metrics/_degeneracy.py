"""Degenerate scores: what the per-metric checks share (each metric's own check lives next to its maths).

A score is *degenerate* when it sits at (or within a relative 1e-6 of) a bound of the metric's range, or is
saturated, so that it no longer says anything about the features: SFDA at 1.0 when N − C ≤ D, GBC at its
floor −C(C−1) when the features are smaller than its absolute variance floor, and so on. ``compute`` fills
``MetricResult.degenerate`` with a one-sentence reason (what happened, why, and the fix) and emits one
:class:`DegenerateScoreWarning`.

Checks read only the score, the trace and the shape of the statistics (N, D, C, priors): O(C²) at most, no
pass over the samples and no decomposition. :func:`transvis.metrics._stats.feature_rms` (one O(N·D) pass,
cached) is called only to word the reason of a score already found degenerate.
"""

from __future__ import annotations

import numpy as np

# Relative tolerance of "at a bound": |score − bound| ≤ REL_TOL · (the metric's natural span).
REL_TOL = 1e-6

FIX_MORE_SAMPLES = "Use more samples per dimension (N ≫ D) or reduce the features with PCA first."
FIX_STANDARDISE = "Standardise the features first (zero mean, unit variance per dimension)."


class DegenerateScoreWarning(UserWarning):
    """A metric's score is at or near a bound of its range (or saturated), where it no longer ranks models.

    The message names the metric, the reason and the fix; the same reason is in ``MetricResult.degenerate``.
    Callers that score in a loop (rankings, animations) can silence it with ``warnings.catch_warnings()``.
    """


def near(value: float, bound: float, span: float, rtol: float = REL_TOL) -> bool:
    """True when ``value`` lies within ``rtol·|span|`` of ``bound`` (span: the metric's natural range)."""
    return bool(abs(float(value) - float(bound)) <= rtol * abs(float(span)))


def label_entropy(priors) -> float:
    """H(π) = −Σ π_c log π_c of the class priors (nats): the −H(π) "bound" of LEEP, 𝒩LEEP and NCE."""
    p = np.asarray(priors, dtype=np.float64)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def fmt(value: float) -> str:
    """A number as the reasons print it (6 significant digits)."""
    return f"{float(value):.6g}"


def fit_dims(result, stats) -> int:
    """Dimension the metric's class model lives in: the trace's ``pca_dims`` when it reduced the features
    (GBC, NCTI, 𝒩LEEP, PARC, FSP's PCA space), else D."""
    dims = result.trace.get("pca_dims") if isinstance(result.trace, dict) else None
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, bool):
        return int(dims)
    return int(stats.n_dims)


def in_sample_reason(display: str, result, stats) -> str | None:
    """The contract-level check of metrics that fit a class model on the very samples they score (LDA-like:
    class means and a within-class covariance or a whitening): with N − C ≤ D the within-class residuals span
    at most N − C of the D dimensions, so any labelling — pure noise included — is separable in-sample and the
    score reflects N/D, not the features."""
    n, c, dims = int(stats.n_samples), int(stats.n_classes), fit_dims(result, stats)
    if n - c > dims:
        return None
    return (
        f"{display} ({fmt(result.score)}) comes from a class model fitted on the same samples it scores, with "
        f"N − C ≤ D ({n} samples, {c} classes, {dims} dims): the within-class scatter is singular, so even pure "
        f"noise looks separable in-sample and the score reflects N/D rather than the features. {FIX_MORE_SAMPLES}"
    )
