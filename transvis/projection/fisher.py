"""The Fisher/LDA plane of SFDA: top generalised eigenvectors of the shrunk between- and within-class scatter."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from transvis.metrics import ClassStats, ensure_stats
from transvis.metrics.sfda import ShrinkageLDA, shrink

from ._linear import LANCZOS_MIN_DIM, LinearProjection, check_components, check_solver, fix_signs, top_eigenpairs


class FisherProjection(LinearProjection):
    """Fisher (LDA) projection ``(X − x̄) V[:, :k]`` with SFDA's shrunk scatter matrices, scikit-learn style.

    The columns of V solve ``S_B^λ v = w S_W^λ v`` (largest w first), normalised so ``Vᵀ S_W^λ V = I``, with
    ``S^λ = (1−λ) S + λ (tr S / D) I`` as in SFDA (Shao et al., ECCV 2022): exactly the columns of
    :class:`transvis.metrics.sfda.ShrinkageLDA`'s ``scalings_``, with the same sign rule (largest-magnitude
    entry positive). λ is fixed at fit time: the given ``shrinkage``, or SFDA's adaptive
    ``max(exp(−5 λ̂_max(S_W)), 1e-10)`` of the fitted features; every later ``transform`` uses that plane.

    Solvers: ``dense`` uses :func:`transvis.metrics.sfda.fisher_directions` (all D directions, two O(D³)
    decompositions); ``lanczos`` Cholesky-whitens S_W^λ once and finds only the top k directions by Lanczos
    (machine precision, deterministic start); ``auto`` picks dense up to 256 dimensions. Lanczos falls back to
    dense when S_W^λ is numerically singular. With C = 2 only the first axis carries class information.

    Attributes (after ``fit``)
    --------------------------
    mean_ [D] (sample mean x̄), components_ [k, D] (Vᵀ), eigenvalues_ [k] (generalised eigenvalues w),
    shrinkage_ (λ used), lambda_max_ (SFDA's power-iteration λ̂_max, None when λ was given), lda_ (the fitted
    :class:`ShrinkageLDA`), n_features_in_.
    """

    def __init__(self, n_components: int = 2, *, shrinkage: float | None = None, solver: str = "auto",
                 backend="auto", device=None):
        self.n_components = n_components
        self.shrinkage = shrinkage
        self.solver = solver
        self.backend = backend
        self.device = device

    def fit(self, X, y, *, stats: ClassStats | None = None, lda: ShrinkageLDA | None = None) -> "FisherProjection":
        """Fit on features X [N, D] and labels y [N] (or reuse a :class:`ClassStats` of them).

        ``lda``: a :class:`ShrinkageLDA` already fitted on these features with this ``shrinkage`` (SFDA's first
        pass), reused instead of fitting again.
        """
        k = check_components(self.n_components)
        check_solver(self.solver)
        stats = ensure_stats(X, y, stats, backend=self.backend, device=self.device)
        if lda is None:
            lda = ShrinkageLDA(self.shrinkage, backend=stats.backend).fit(stats.features, stats.labels, stats=stats)
        elif lda.means_.shape != stats.class_means.shape or (
                self.shrinkage is not None and lda.shrinkage_ != float(self.shrinkage)):
            raise ValueError("lda must be fitted on the same features with the same shrinkage as this projection.")
        d = stats.n_dims
        k = min(k, d)
        values = vectors = None
        self._between_scatter = stats.between_scatter
        if self.solver == "lanczos" or (self.solver == "auto" and d > LANCZOS_MIN_DIM):
            values, vectors = _top_generalised(shrink(self._between_scatter, lda.shrinkage_),
                                               lda.shrunk_covariance_, k)
        if vectors is None:
            values, vectors = lda.fisher_eigenvalues_[:k], lda.scalings_[:, :k]
        self.lda_ = lda
        self.shrinkage_ = lda.shrinkage_
        self.lambda_max_ = lda.lambda_max_
        self.mean_ = lda.xbar_.copy()
        self.components_ = np.ascontiguousarray(vectors.T)
        self.eigenvalues_ = np.asarray(values, dtype=np.float64).copy()
        self.n_features_in_ = d
        return self

    def spectrum(self) -> np.ndarray:
        """All D generalised eigenvalues of (S_B^λ, S_W^λ), descending (an O(D³) eigenvalue-only solve)."""
        self._check_fitted()
        between = shrink(self._between_scatter, self.shrinkage_)
        try:
            values = scipy.linalg.eigh(between, self.lda_.shrunk_covariance_, eigvals_only=True, check_finite=False)
            return values[::-1].copy()
        except np.linalg.LinAlgError:  # S_W^λ numerically singular: sfda's clipped whitening
            return self.lda_.fisher_eigenvalues_.copy()


def _top_generalised(between: np.ndarray, within: np.ndarray, k: int):
    """Top-k eigenpairs of ``between v = w within v`` via Cholesky whitening and Lanczos; (None, None) when
    ``within`` is not numerically positive definite. Vectors [D, k] satisfy ``Vᵀ within V = I``, signed."""
    try:
        factor = scipy.linalg.cholesky(within, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None, None
    if not np.all(np.diag(factor) > np.sqrt(np.finfo(float).eps) * np.sqrt(np.abs(np.diag(within)).max())):
        return None, None

    def operator(v):
        inner = scipy.linalg.solve_triangular(factor, v, lower=True, trans="T", check_finite=False)
        return scipy.linalg.solve_triangular(factor, between @ inner, lower=True, check_finite=False)

    def dense():
        half = scipy.linalg.solve_triangular(factor, between, lower=True, check_finite=False)
        whole = scipy.linalg.solve_triangular(factor, half.T, lower=True, check_finite=False)
        return 0.5 * (whole + whole.T)

    values, rotated = top_eigenpairs(operator, within.shape[0], k, solver="lanczos", dense=dense)
    vectors = scipy.linalg.solve_triangular(factor, rotated, lower=True, trans="T", check_finite=False)
    return values, fix_signs(vectors)
