"""TransRate (Huang et al., ICML 2022): the coding rate of the features minus its average within classes.

With globally centred features Z = X − μ [N, D] and the coding rate

    R(A, ε) = ½·log det(I_D + AᵀA / (n·ε))        A [n, D]

the score is ``TrR = R(Z) − (1/C)·Σ_c R(Z_c)``, where Z_c holds the centred rows of class c (not re-centred).
"""

from __future__ import annotations

import numpy as np

from ._contract import MetricResult, MetricSpec, register
from ._stats import ensure_stats


def _rate_from_eigenvalues(gram_eigenvalues: np.ndarray, n_rows: int, eps: float) -> float:
    """½·Σ log(1 + λ/(n·ε)) over the eigenvalues λ of AᵀA (or of AAᵀ: same non-zero spectrum)."""
    return 0.5 * float(np.log1p(np.maximum(gram_eigenvalues, 0.0) / (n_rows * eps)).sum())


def _class_rate(stats, rows: np.ndarray, eps: float) -> float:
    """R(Z_c) for the centred rows of one class, from the smaller of the n_c×n_c and D×D Gram matrices."""
    block = stats.centered[rows]
    if block.shape[0] < stats.n_dims:
        gram = stats.backend.matmul(block, block.T)  # log det(I_D + AᵀA) = log det(I_n + AAᵀ)
    else:
        gram = stats.backend.gram(block)
    return _rate_from_eigenvalues(stats.backend.eigh(gram)[0], rows.size, eps)


def transrate(features, labels, *, stats=None, eps: float = 1e-4) -> MetricResult:
    """TransRate of features [N, D] for labels [N] (higher is better).

    Paper: Huang et al., "Frustratingly Easy Transferability Estimation", ICML 2022. Matches TLlib
    ``tllib.ranking.transrate(X, y, eps=1e-4)`` (also EMMS ``metrics.py``): unweighted 1/C class
    average, each class's rate with its own n_c, rows centred by the global mean only.

    The global rate uses the shared eigenvalues w of S_T (ZᵀZ = N·S_T): ``R(Z) = ½·Σ log(1 + w/ε)``.
    Each class rate is a log-determinant of the smaller of Z_c Z_cᵀ [n_c, n_c] and Z_cᵀ Z_c [D, D].
    Not scale invariant: ε is an absolute distortion. Once every eigenvalue above is ≫ ε, rescaling
    the features by c shifts TrR by ½·(rank Z − mean_c rank Z_c)·log c², which vanishes only when every
    class has full rank (n_c > D); as c → 0 the score falls to 0.

    eps : distortion ε > 0 (TLlib's default 1e-4).

    trace: ``global_rate`` R(Z), ``class_rates`` [C] R(Z_c).
    """
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"transrate eps must be a positive distortion; got {eps!r}. TLlib's default is 1e-4.")
    stats = ensure_stats(features, labels, stats)
    eigenvalues_st, _ = stats.total_eigh
    global_rate = _rate_from_eigenvalues(eigenvalues_st, 1, eps)  # N·S_T/(N·ε) = S_T/ε
    class_rates = np.array([_class_rate(stats, rows, eps) for rows in stats.class_indices])
    score = global_rate - float(class_rates.mean())
    return MetricResult(
        "transrate", score, {"global_rate": global_rate, "class_rates": class_rates}, params={"eps": eps}
    )


register(MetricSpec(
    name="transrate", fn=transrate,
    summary="Coding rate of all features minus the average coding rate within each class.",
    citation="Huang, Huang, Rong, Yang, Wei, Frustratingly Easy Transferability Estimation, ICML 2022",
    scale_invariant=False,
))
