"""Shared pieces of the linear 2-D projections: top eigenpairs, the sign convention, validation."""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse.linalg

# Above this dimension the top eigenpairs come from Lanczos (ARPACK, converged to machine precision from a
# fixed start vector) instead of a dense LAPACK decomposition: O(D²) per product instead of O(D³).
LANCZOS_MIN_DIM = 256
SOLVERS = ("auto", "dense", "lanczos")


def check_solver(solver: str) -> str:
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}; got {solver!r}.")
    return solver


def check_components(n_components) -> int:
    k = int(n_components)
    if k < 1:
        raise ValueError(f"n_components must be a positive integer; got {n_components!r}. Use 2 for a scatter plot.")
    return k


def fix_signs(vectors: np.ndarray) -> np.ndarray:
    """Flip each column [D, k] so its largest-magnitude entry is positive (first such entry on ties).

    Eigenvectors are defined up to sign; this rule makes re-fits on the same data give the same picture.
    """
    vectors = np.array(vectors, dtype=np.float64, copy=True)
    if vectors.size == 0:
        return vectors
    pivot = np.abs(vectors).argmax(axis=0)
    signs = np.where(vectors[pivot, np.arange(vectors.shape[1])] < 0, -1.0, 1.0)
    return vectors * signs


def top_eigenpairs(operator, dim: int, k: int, *, solver: str = "auto", dense=None):
    """Largest ``k`` eigenpairs (descending) of a symmetric operator of size ``dim``.

    ``operator(v)`` maps [dim] or [dim, m] to the same shape; ``dense()`` returns the matrix [dim, dim] (used
    for the dense solver and as the fallback when Lanczos does not converge). Returns (values [k], vectors
    [dim, k]), signs not fixed.
    """
    solver = check_solver(solver)
    k = min(k, dim)
    use_lanczos = solver == "lanczos" or (solver == "auto" and dim > LANCZOS_MIN_DIM)
    if use_lanczos and k < dim - 1:
        linop = scipy.sparse.linalg.LinearOperator((dim, dim), matvec=operator, matmat=operator, dtype=np.float64)
        # A fixed, generic start vector keeps the result deterministic.
        start = np.cos(np.arange(1, dim + 1, dtype=np.float64))
        try:
            values, vectors = scipy.sparse.linalg.eigsh(linop, k=k, which="LA", v0=start, tol=0.0,
                                                        ncv=min(dim, max(2 * k + 1, 20)))
            order = np.argsort(values)[::-1]
            return values[order], vectors[:, order]
        except (scipy.sparse.linalg.ArpackNoConvergence, scipy.sparse.linalg.ArpackError):
            pass  # the dense decomposition below always works
    matrix = dense()
    values, vectors = scipy.linalg.eigh(matrix, subset_by_index=[dim - k, dim - 1], check_finite=False)
    return values[::-1].copy(), vectors[:, ::-1].copy()


def pad_components(components: np.ndarray, k: int) -> np.ndarray:
    """Zero rows appended to components [k0, D] up to k rows (when the data have fewer directions than asked)."""
    if components.shape[0] >= k:
        return components
    return np.vstack([components, np.zeros((k - components.shape[0], components.shape[1]))])


class LinearProjection:
    """Base of the linear projections: ``transform(X) = (X − mean_) @ components_.T``.

    Fitted state: ``mean_`` [D], ``components_`` [k, D], ``n_features_in_``.
    """

    n_components: int

    def _check_fitted(self):
        if not hasattr(self, "components_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit(X, ...) first.")

    def transform(self, X) -> np.ndarray:
        """Projected features [N, k] of features X [N, D] (the space the projection was fitted in)."""
        self._check_fitted()
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X must be [N, {self.n_features_in_}] (the dimension this projection was fitted on); got {x.shape}."
            )
        return (x - self.mean_) @ self.components_.T

    def fit_transform(self, X, y=None, **kwargs) -> np.ndarray:
        return self.fit(X, y, **kwargs).transform(X)
