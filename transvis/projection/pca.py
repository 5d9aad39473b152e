"""Exact principal-component projection with a deterministic sign convention."""

from __future__ import annotations

import numpy as np

from transvis.metrics import ClassStats
from transvis.metrics._validation import as_features

from ._linear import (
    LANCZOS_MIN_DIM,
    LinearProjection,
    check_components,
    check_solver,
    fix_signs,
    pad_components,
    top_eigenpairs,
)


class PCAProjection(LinearProjection):
    """Exact PCA onto the top ``n_components`` principal axes of the features, scikit-learn style.

    ``transform(X) = (X − mean_) @ components_.T``. The axes are the top eigenvectors of the biased total
    covariance ``S_T = (1/N) Σ (x − x̄)(x − x̄)ᵀ`` — exact, not randomised: dense LAPACK for small problems,
    Lanczos (ARPACK, converged to machine precision from a fixed start vector) above 256 dimensions, each
    O(N·D) per step instead of a full O(D³) decomposition. Each axis is signed so its largest-magnitude
    entry is positive, so fitting again on the same data never flips the picture.

    Parameters
    ----------
    n_components : int, default 2.
    solver : "auto" | "dense" | "lanczos".

    Attributes (after ``fit``)
    --------------------------
    mean_ [D], components_ [k, D] (orthonormal rows; zero rows when the data have fewer than k dimensions),
    explained_variance_ [k] (eigenvalues of S_T, biased), explained_variance_ratio_ [k], n_features_in_.
    """

    def __init__(self, n_components: int = 2, *, solver: str = "auto"):
        self.n_components = n_components
        self.solver = solver

    def fit(self, X, y=None, *, stats: ClassStats | None = None, covariance=None) -> "PCAProjection":
        """Fit on features X [N, D]. ``y`` is ignored (present for the scikit-learn signature).

        ``stats`` (a :class:`ClassStats` of X) lets it reuse the centred features and S_T when cached;
        ``covariance`` passes S_T [D, D] (biased) when the caller already has it.
        """
        k = check_components(self.n_components)
        check_solver(self.solver)
        if stats is not None and stats.matches(X, stats.labels):
            mean, n, d = stats.mean, stats.n_samples, stats.n_dims

            def centred():
                return stats.centered

            cached_cov = stats.__dict__.get("total_scatter")  # reuse only if some metric already paid for it
        else:
            x = as_features(X)
            mean, (n, d) = x.mean(axis=0), x.shape
            centred_x = x - mean

            def centred():
                return centred_x

            cached_cov = None
        if covariance is not None:
            cached_cov = np.asarray(covariance, dtype=np.float64)
            if cached_cov.shape != (d, d):
                raise ValueError(f"covariance must be [{d}, {d}] (S_T of X); got {cached_cov.shape}.")
        if cached_cov is not None:
            total_variance = float(np.trace(cached_cov))
        else:
            total_variance = float(np.einsum("ij,ij->", centred(), centred()) / n)

        def operator(v):
            if cached_cov is not None:
                return cached_cov @ v
            return centred().T @ (centred() @ v) / n

        def dense():
            return cached_cov if cached_cov is not None else centred().T @ centred() / n

        k_fit = min(k, d)
        small = min(n, d) <= LANCZOS_MIN_DIM
        if n < d and cached_cov is None and (self.solver == "dense" or (self.solver == "auto" and small)):
            # Dense on the smaller side: eigenvectors of the N×N Gram map back through Xcᵀ.
            values, vectors = top_eigenpairs(None, n, min(k_fit, n), solver="dense",
                                             dense=lambda: centred() @ centred().T / n)
            values = np.maximum(values, 0.0)
            axes = centred().T @ vectors
            norms = np.linalg.norm(axes, axis=0)
            axes = axes / np.where(norms > 0, norms, 1.0)
        else:
            solver = "dense" if (self.solver == "auto" and small) else self.solver
            values, axes = top_eigenpairs(operator, d, k_fit, solver=solver, dense=dense)
            values = np.maximum(values, 0.0)
        self.mean_ = np.asarray(mean, dtype=np.float64).copy()
        self.components_ = pad_components(fix_signs(axes).T, k)
        self.explained_variance_ = np.concatenate([values, np.zeros(k - values.size)])
        self.explained_variance_ratio_ = (self.explained_variance_ / total_variance if total_variance > 0
                                          else np.zeros(k))
        self.n_features_in_ = d
        return self
