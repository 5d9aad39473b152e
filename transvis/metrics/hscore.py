"""H-score (Bao et al., ICIP 2019) and its shrinkage-regularised form Hα (Ibrahim et al., 2022).

Both are closed forms of the shared statistics:

    H  = tr(pinv(Cov(X)) · Cov(g))            g_i = μ_{y_i}
    Hα = tr(pinv(Σ_α) · (1−α) · Cov(g))       Σ_α = (1−α) S + α (tr S / D) I   (Ledoit-Wolf α)

With ``Cov(X) = V diag(w) Vᵀ`` (one eigendecomposition shared with LogME, FSP, NCTI and GBC) both reduce to
sums over eigen-directions of the between-class energy ``b_k = v_kᵀ S_B v_k``.
"""

from __future__ import annotations

import numpy as np

from ._contract import MetricResult, MetricSpec, register
from ._stats import ensure_stats


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
    stats = ensure_stats(features, labels, stats)
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
    stats = ensure_stats(features, labels, stats)
    w, between = _between_energy(stats)
    n, d = stats.n_samples, stats.n_dims
    alpha = ledoit_wolf_shrinkage(stats)
    shrunk = (1.0 - alpha) * w + alpha * w.sum() / d
    keep = shrunk > shrunk.max() * max(n, d) * np.finfo(float).eps
    score = float((1.0 - alpha) * n / (n - 1) * (between[keep] / shrunk[keep]).sum())
    return MetricResult(
        "hscore_shrinkage", score, {"alpha": alpha, "eigenvalues": shrunk, "between_energy": between}
    )


register(MetricSpec(
    name="hscore", fn=h_score, aliases=("h_score",),
    summary="Class-mean variance explained through the inverse feature covariance.",
    citation="Bao et al., An information-theoretic approach to transferability in task transfer learning, ICIP 2019",
    scale_invariant=True,
))
register(MetricSpec(
    name="hscore_shrinkage", fn=h_score_shrinkage, aliases=("regularized_h_score", "h_alpha"),
    summary="H-score with a Ledoit-Wolf shrunk covariance, stable when D is large or N small.",
    citation="Ibrahim, Ponomareva, Mazumder, Newer is not always better: rethinking transferability metrics, "
             "their peculiarities, stability and performance, ECML-PKDD 2022",
    scale_invariant=True,
))
