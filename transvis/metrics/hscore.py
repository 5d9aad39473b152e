"""H-score (Bao et al., ICIP 2019) and its shrinkage-regularised form Hα (Ibrahim et al., 2022).

Both are closed forms of the shared statistics:

    H  = tr(pinv(Cov(X)) · Cov(g))            g_i = μ_{y_i}
    Hα = tr(pinv(Σ_α) · (1−α) · Cov(g))       Σ_α = (1−α) S + α (tr S / D) I   (Ledoit-Wolf α)

With ``Cov(X) = V diag(w) Vᵀ`` (one eigendecomposition shared with LogME, FSP, NCTI and GBC) both reduce to
sums over eigen-directions of the between-class energy ``b_k = v_kᵀ S_B v_k``.

Range: H is the sum of the generalised eigenvalues of S_B against S_T, each in [0, 1] and at most C−1 of
them non-zero, so 0 ≤ H ≤ C−1; Hα ≤ N/(N−1)·(C−1) likewise. Both are scale invariant: features of extreme
magnitude (outside [2^-64, 2^64]) are divided by a power of two before the maths (same score, no overflow).
Degenerate (flagged by ``compute``): H or Hα within a relative 1e-6 of either bound, and Hα when the
Ledoit-Wolf shrinkage is 1 (the score is then 0 for any features).
"""

from __future__ import annotations

import numpy as np

from ._contract import MetricResult, MetricSpec, register
from ._degeneracy import FIX_MORE_SAMPLES, REL_TOL, fmt, near
from ._stats import metric_stats


def _between_energy(stats) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues w [D] of S_T (descending) and b_k = v_kᵀ S_B v_k [D]."""
    w, v = stats.total_eigh
    proj = (stats.class_means - stats.mean) @ v  # [C, D]
    return w, (proj**2 * stats.priors[:, None]).sum(axis=0)


def h_score(features, labels, *, stats=None) -> MetricResult:
    """H-score of features [N, D] for labels [N]: ``tr(pinv(Cov(X)) Cov(g))``.

    Matches TLlib ``h_score`` (the original authors' formula; unbiased covariances, whose N/(N−1)
    factors cancel). Directions whose eigenvalue is below ``max(N, D)·eps·w_max`` are treated as null
    space, the numerically sound rank cutoff; TLlib's ``pinv(rcond=1e-15)`` can keep round-off
    directions when N ≤ D, where H is exactly C−1.

    trace: ``eigenvalues`` [D] of Cov(X) (biased), ``between_energy`` [D] (class-mean energy along each
    eigenvector; H = Σ between/eigen over the kept directions), ``rank``.
    """
    stats = metric_stats(features, labels, stats)
    w, between = _between_energy(stats)
    keep = w > w[0] * max(stats.n_samples, stats.n_dims) * np.finfo(float).eps
    score = float((between[keep] / w[keep]).sum())
    return MetricResult(
        "hscore", score, {"eigenvalues": w, "between_energy": between, "rank": int(keep.sum())}
    )


def ledoit_wolf_shrinkage(stats) -> float:
    """Ledoit-Wolf shrinkage α of the centred features, equal to scikit-learn's ``LedoitWolf().shrinkage_``.

    Uses only O(N D) extra work: Σ_i ||x_i||⁴ and ||S||_F² of the shared biased covariance S.
    """
    n, d = stats.n_samples, stats.n_dims
    if n == 1:
        return 0.0
    cov = stats.total_scatter
    mu = np.trace(cov) / d
    row_sq = stats.centered_row_norms2()  # ||x_i − μ||², block by block
    delta_ = (cov**2).sum()  # ||S||_F²
    beta_ = (row_sq**2).sum() / n  # (1/N) Σ_i ||x_i||⁴
    beta = (beta_ - delta_) / n
    delta = delta_ - 2.0 * mu * np.trace(cov) + d * mu**2
    delta /= d
    beta = min(beta / d, delta)
    return 0.0 if beta == 0 else float(beta / delta)


def h_score_shrinkage(features, labels, *, stats=None) -> MetricResult:
    """Shrinkage-regularised H-score Hα of features [N, D] for labels [N] (Ibrahim et al., 2022).

    Matches TLlib ``regularized_h_score``: Σ_α is Ledoit-Wolf's shrunk covariance (biased S) and
    ``Cov(g)`` is unbiased (the original's mixed normalisation). Σ_α shares S's eigenvectors, so
    ``Hα = (1−α)·N/(N−1)·Σ_k b_k / ((1−α) w_k + α·tr S/D)``.

    trace: ``alpha`` (shrinkage), ``eigenvalues`` [D] of Σ_α, ``between_energy`` [D].
    """
    stats = metric_stats(features, labels, stats)
    w, between = _between_energy(stats)
    n, d = stats.n_samples, stats.n_dims
    alpha = ledoit_wolf_shrinkage(stats)
    shrunk = (1.0 - alpha) * w + alpha * w.sum() / d
    keep = shrunk > shrunk.max() * max(n, d) * np.finfo(float).eps
    score = float((1.0 - alpha) * n / (n - 1) * (between[keep] / shrunk[keep]).sum())
    return MetricResult(
        "hscore_shrinkage", score, {"alpha": alpha, "eigenvalues": shrunk, "between_energy": between}
    )


def _bound_reason(display: str, score: float, top: float, stats) -> str | None:
    n, c, d = stats.n_samples, stats.n_classes, stats.n_dims
    if score >= top * (1.0 - REL_TOL):
        why = (f"N − C ≤ D ({n} samples, {d} dims) makes the within-class scatter singular along every class-mean "
               f"direction, for any labelling. {FIX_MORE_SAMPLES}") if n - c <= d else (
               "every class collapses to its mean along the class-mean directions (no within-class variance "
               "there), so the score cannot order such models. Check for duplicated samples or use a harder "
               "target set.")
        return f"{display} is {fmt(score)}, at its maximum {fmt(top)} (saturated): {why}"
    if near(score, 0.0, top):
        return (f"{display} is {fmt(score)}, at its minimum 0: the class means coincide (no between-class "
                "variance), so the features carry no class information. Check the extraction layer and the labels.")
    return None


def h_score_degeneracy(result: MetricResult, stats) -> str | None:
    """H at (within 1e-6 of) C − 1 or 0."""
    return _bound_reason("H-score", result.score, stats.n_classes - 1.0, stats)


def h_score_shrinkage_degeneracy(result: MetricResult, stats) -> str | None:
    """Hα with shrinkage α = 1 (then 0 for any features), or at (within 1e-6 of) N/(N−1)·(C−1) or 0."""
    alpha = float(result.trace.get("alpha", 0.0))
    n, d = stats.n_samples, stats.n_dims
    if alpha >= 1.0 - REL_TOL:
        return (f"Shrinkage H-score is {fmt(result.score)}: the Ledoit-Wolf shrinkage is α = {fmt(alpha)}, which "
                f"replaces the covariance by its trace, because the sample covariance of {n} samples in {d} dims "
                f"is pure estimation noise; the score is then ~0 for any features. {FIX_MORE_SAMPLES}")
    return _bound_reason("Shrinkage H-score", result.score, n / (n - 1.0) * (stats.n_classes - 1.0), stats)


register(MetricSpec(
    name="hscore", fn=h_score, aliases=("h_score",),
    display_name="H-score",
    summary="Class-mean variance explained through the inverse feature covariance.",
    citation="Bao et al., An information-theoretic approach to transferability in task transfer learning, ICIP 2019",
    scale_invariant=True,
    degeneracy=h_score_degeneracy,
    fits_in_sample=True,
))
register(MetricSpec(
    name="hscore_shrinkage", fn=h_score_shrinkage, aliases=("regularized_h_score", "h_alpha"),
    display_name="H-score (shrinkage)",
    summary="H-score with a Ledoit-Wolf shrunk covariance, stable when D is large or N small.",
    citation="Ibrahim, Ponomareva, Mazumder, Newer is not always better: rethinking transferability metrics, "
             "their peculiarities, stability and performance, ECML-PKDD 2022",
    scale_invariant=True,
    degeneracy=h_score_shrinkage_degeneracy,
))
