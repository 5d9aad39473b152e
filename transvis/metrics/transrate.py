"""TransRate (Huang et al., ICML 2022): the coding rate of the features minus its average within classes.

With globally centred features Z = X − μ [N, D] and the coding rate

    R(A, ε) = ½·log det(I_D + AᵀA / (n·ε))        A [n, D]

the score is ``TrR = R(Z) − (1/C)·Σ_c R(Z_c)``, where Z_c holds the centred rows of class c (not re-centred).
"""

from __future__ import annotations

import numpy as np

from ._contract import MetricResult, MetricSpec, register
from ._degeneracy import FIX_STANDARDISE, REL_TOL, fmt
from ._stats import feature_rms, metric_stats
from ._validation import scale_error

# Smallest distortion (in the rescaled features' units) the Cholesky route takes: 1/(n·ε) times a Gram entry
# must stay far from overflow.
_MIN_RESCALED_EPS = 1e-250


def _coding_rate(backend, gram: np.ndarray, n_rows: int, eps: float) -> float:
    """R = ½·log det(I + gram/(n·ε)) for gram = AᵀA or AAᵀ (same non-zero spectrum).

    Cholesky of I + gram/(nε). When even the trace of gram/(nε) is below 1 (tiny features) R is small and
    Cholesky's absolute round-off (~k·eps) would dominate it: then ½·Σ log1p(λ/(nε)) over the eigenvalues.
    """
    scale = 1.0 / (n_rows * eps)
    if float(np.trace(gram)) * scale < 1.0:
        values = backend.eigh(np.asarray(gram, dtype=np.float64))[0]
        return 0.5 * float(np.log1p(np.maximum(values, 0.0) * scale).sum())
    return 0.5 * backend.logdet_eye_plus(gram, scale)


def _class_rate(stats, rows: np.ndarray, eps: float) -> float:
    """R(Z_c) for the centred rows of one class, from the smaller of the n_c×n_c and D×D Gram matrices."""
    block = stats.features[rows] - stats.mean
    if block.shape[0] < stats.n_dims:
        gram = stats.backend.matmul(block, block.T)  # log det(I_D + AᵀA) = log det(I_n + AAᵀ)
    else:
        gram = stats.backend.gram(block)
    return _coding_rate(stats.backend, gram, rows.size, eps)


def transrate(features, labels, *, stats=None, eps: float = 1e-4) -> MetricResult:
    """TransRate of features [N, D] for labels [N] (higher is better).

    Paper: Huang et al., "Frustratingly Easy Transferability Estimation", ICML 2022. Matches TLlib
    ``tllib.ranking.transrate(X, y, eps=1e-4)`` (also EMMS ``metrics.py``): unweighted 1/C class
    average, each class's rate with its own n_c, rows centred by the global mean only.

    The global rate uses the shared S_T (ZᵀZ = N·S_T): ``R(Z) = ½·log det(I + S_T/ε)``. Each class rate is
    a log-determinant of the smaller of Z_c Z_cᵀ [n_c, n_c] and Z_cᵀ Z_c [D, D]. Each log-determinant is a
    Cholesky factorisation of the positive-definite ``I + A/(nε)`` (eigenvalues and log1p only when the
    trace of A/(nε) is below 1, where Cholesky's round-off would dominate the tiny rate), so the value does
    not depend on which other metrics ran first.
    Not scale invariant: ε is an absolute distortion. Once every eigenvalue above is ≫ ε, rescaling
    the features by c shifts TrR by ½·(rank Z − mean_c rank Z_c)·log c², which vanishes only when every
    class has full rank (n_c > D); as c → 0 the score falls to 0.

    Features of extreme magnitude (outside [2^-64, 2^64]) are divided by a power of two s first and ε by s²
    (the same maths without overflow); beyond ~1e120, where ε/s² leaves the float range (and the score is
    ½·rank·log(s²/ε) terms, not a measurement), a ``ValueError`` asks for standardised features.

    Degenerate (``compute`` flags it): |TrR| ≤ 1e-6·R(Z), i.e. ~0 relative to its own coding rates (features
    far below ε, where the global and class rates cancel to first order, or no class structure), and 0 for
    constant features.

    eps : distortion ε > 0 (TLlib's default 1e-4).

    trace: ``global_rate`` R(Z), ``class_rates`` [C] R(Z_c).
    """
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"transrate eps must be a positive distortion; got {eps!r}. TLlib's default is 1e-4.")
    stats = metric_stats(features, labels, stats)
    eps_here = eps
    if stats.unit_scale != 1.0:  # rescaled features (ClassStats.rescaled): ε in their units
        with np.errstate(over="ignore", under="ignore"):
            eps_here = float(eps / np.float64(stats.unit_scale) ** 2)
        if not (np.isfinite(eps_here) and eps_here >= _MIN_RESCALED_EPS):
            raise scale_error("TransRate", stats.unit_scale,
                              f"compares the features' variance with the absolute distortion ε = {eps:g}")
    global_rate = _coding_rate(stats.backend, stats.total_scatter, 1, eps_here)  # ZᵀZ/(N·ε) = S_T/ε
    class_rates = np.array([_class_rate(stats, rows, eps_here) for rows in stats.class_indices])
    score = global_rate - float(class_rates.mean())
    return MetricResult(
        "transrate", score, {"global_rate": global_rate, "class_rates": class_rates}, params={"eps": eps}
    )


def transrate_degeneracy(result: MetricResult, stats) -> str | None:
    """TrR ~0 relative to its coding rates: |TrR| ≤ 1e-6·R(Z) (or R(Z) = 0, constant features)."""
    global_rate = float(result.trace.get("global_rate", 0.0))
    eps = float(result.params.get("eps", 1e-4))
    score = result.score
    if global_rate == 0.0:
        return ("TransRate is 0: the features are constant (zero coding rate), so they carry no information. "
                "Check the extraction layer.")
    if abs(score) > REL_TOL * global_rate:
        return None
    rms = feature_rms(stats)
    if rms**2 <= 1e-3 * eps:
        why = (f"the features' variance (RMS spread ~{rms:.1e}) is far below the absolute distortion ε = {eps:g}, "
               f"where the global and class coding rates cancel to first order and every model scores ~0. "
               f"{FIX_STANDARDISE}")
    else:
        why = ("the class coding rates add up to the global one, so the classes are not separated in the "
               "features. Check the extraction layer and the labels.")
    return (f"TransRate is {fmt(score)}, ~0 relative to its coding rate R(Z) = {fmt(global_rate)}: {why}")


register(MetricSpec(
    name="transrate", fn=transrate,
    display_name="TransRate",
    summary="Coding rate of all features minus the average coding rate within each class.",
    citation="Huang, Huang, Rong, Yang, Wei, Frustratingly Easy Transferability Estimation, ICML 2022",
    scale_invariant=False,
    degeneracy=transrate_degeneracy,
))
