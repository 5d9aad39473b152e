"""Eigen-updates: the eigendecomposition of ``A + u uᵀ`` from one of ``A`` without a new O(D³) decomposition
(:func:`eigh_rank_one_update`, LAPACK's divide-and-conquer merge step with its secular-equation solver), and
:class:`DenseEigh`, an explicit decomposition with the same interface. The shared statistics read XᵀX's
eigendecomposition off S_T's this way (:mod:`transvis.metrics._stats`)."""

from __future__ import annotations

import functools

import numpy as np
import scipy.linalg.lapack


class RankOneUpdatedEigh:
    """Eigendecomposition of ``A + u uᵀ`` built from one of the symmetric PSD ``A = V diag(w) Vᵀ`` [D, D].

    The divide-and-conquer merge step of LAPACK (Cuppen; Gu & Eisenstat 1994): in V's basis the problem is
    ``diag(w) + ρ z zᵀ`` (ν = Vᵀu, ρ = ‖ν‖², z = ν/√ρ). Components with negligible z_j, and pairs of (nearly)
    equal w after a Givens rotation, deflate (their eigenpair is kept); the rest solve the secular equation
    with LAPACK ``dlasd4`` (eigenvalue by eigenvalue, accurate differences d_j − σ_i), and the eigenvectors
    use the Gu-Eisenstat recomputed z, so they are orthogonal to working precision. Cost O(D²) plus
    O(m·D²) per projection of m rows, against O(D³) for a new eigendecomposition.

    values : [D] descending. ``project(rows)`` = rows @ vectors and ``expand(coef)`` = coef @ vectorsᵀ for
    rows/coef [m, D] never form the eigenvectors; ``vectors`` [D, D] (columns, same order) forms them.
    """

    def __init__(self, values, vectors, update):
        eps = np.finfo(float).eps
        w = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
        order = np.argsort(w, kind="stable")  # ascending, as the secular solver wants
        w = w[order]
        basis = np.asarray(vectors, dtype=np.float64)[:, order]
        nu = np.asarray(update, dtype=np.float64) @ basis
        rho = float(nu @ nu)
        n = w.size
        self._basis = basis
        self._keep = np.zeros(n, dtype=bool)
        self._rotation = np.zeros((0, 0))
        if not (np.isfinite(rho) and rho > 0.0):
            self._finish(w)
            return
        z = nu / np.sqrt(rho)
        tol = 8.0 * eps * max(float(w[-1]), rho)
        deflated = rho * np.abs(z) <= tol
        rotated = False
        previous = -1
        for j in np.flatnonzero(~deflated):
            if previous < 0:
                previous = j
                continue
            tau = np.hypot(z[previous], z[j])
            c, s = z[j] / tau, -z[previous] / tau
            if abs((w[j] - w[previous]) * c * s) <= tol:  # (nearly) equal w: rotate z_previous to 0, deflate it
                if not rotated:
                    basis = self._basis = basis.copy()
                    rotated = True
                z[j], z[previous] = tau, 0.0
                first, second = basis[:, previous].copy(), basis[:, j].copy()
                basis[:, previous] = c * first + s * second
                basis[:, j] = c * second - s * first
                w[previous], w[j] = w[previous] * c**2 + w[j] * s**2, w[previous] * s**2 + w[j] * c**2
                deflated[previous] = True
            previous = j
        keep = ~deflated
        k = int(keep.sum())
        if k:
            zk = z[keep]
            norm = np.linalg.norm(zk)
            rho_k, zk = rho * norm**2, zk / norm
            if k == 1:
                sigma2, rotation = w[keep] + rho_k, np.ones((1, 1))
            else:
                sigma2, rotation = _secular_eigh(np.sqrt(w[keep]), zk, rho_k)
            w[keep] = sigma2
            self._rotation = rotation
        self._keep = keep
        self._finish(w)

    def _finish(self, w):
        self._order = np.argsort(w, kind="stable")[::-1].copy()
        self.values = w[self._order]

    def project(self, rows: np.ndarray) -> np.ndarray:
        """``rows @ vectors`` [m, D] for rows [m, D]."""
        out = np.asarray(rows, dtype=np.float64) @ self._basis
        if self._rotation.size:
            out[:, self._keep] = out[:, self._keep] @ self._rotation.T
        return out[:, self._order]

    def expand(self, coef: np.ndarray) -> np.ndarray:
        """``coef @ vectorsᵀ`` [m, D] for coefficients [m, D] along the eigenvectors (``values`` order)."""
        coef = np.asarray(coef, dtype=np.float64)
        inner = np.empty_like(coef)
        inner[:, self._order] = coef
        if self._rotation.size:
            inner[:, self._keep] = inner[:, self._keep] @ self._rotation
        return inner @ self._basis.T

    @functools.cached_property
    def vectors(self) -> np.ndarray:
        """Eigenvectors [D, D] (columns, ``values`` order)."""
        out = self._basis.copy()
        if self._rotation.size:
            out[:, self._keep] = self._basis[:, self._keep] @ self._rotation.T
        return out[:, self._order]


class DenseEigh:
    """An explicit eigendecomposition with the :class:`RankOneUpdatedEigh` interface (values descending)."""

    def __init__(self, values: np.ndarray, vectors: np.ndarray):
        self.values = values
        self.vectors = vectors

    def project(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows, dtype=np.float64) @ self.vectors

    def expand(self, coef: np.ndarray) -> np.ndarray:
        return np.asarray(coef, dtype=np.float64) @ self.vectors.T


def _secular_eigh(d: np.ndarray, z: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues σ² [k] and eigenvectors (rows) [k, k] of ``diag(d²) + ρ z zᵀ``.

    ``0 ≤ d`` strictly increasing, ``‖z‖ = 1`` with no zero entry, ρ > 0 (the deflated problem). Raises
    ``np.linalg.LinAlgError`` if the secular solver fails.
    """
    k = d.size
    if not np.all(np.diff(d) > 0):
        raise np.linalg.LinAlgError("secular equation needs strictly increasing d")
    delta = np.empty((k, k))  # delta[i, j] = d_j − σ_i
    total = np.empty((k, k))  # total[i, j] = d_j + σ_i
    sigma = np.empty(k)
    for i in range(k):
        delta[i], sigma[i], total[i], info = scipy.linalg.lapack.dlasd4(i, d, z, rho)
        if info != 0:
            raise np.linalg.LinAlgError(f"dlasd4 did not converge (info={info})")
    gap = np.multiply(delta, total, out=delta)  # d_j² − σ_i², accurate (no cancellation)
    del total
    # Gu-Eisenstat: the z for which the computed σ are exact,
    # ẑ_j² = |d_j² − σ_j²| Π_{i≠j} |d_j² − σ_i²| / |d_j² − d_i²|.
    ratio = np.subtract.outer(d, d)
    ratio *= np.add.outer(d, d)  # d_i² − d_j², without cancellation
    np.fill_diagonal(ratio, 1.0)
    np.divide(gap, ratio, out=ratio)
    np.abs(ratio, out=ratio)
    with np.errstate(over="ignore", under="ignore"):
        z2 = np.prod(ratio, axis=0)
    if not (np.all(np.isfinite(z2)) and np.all(z2 > 0)):
        z2 = np.exp(np.log(ratio).sum(axis=0))
    del ratio
    z_hat = np.copysign(np.sqrt(z2), z)
    rotation = np.divide(z_hat[None, :], gap, out=gap)  # row i ∝ eigenvector i
    rotation /= np.sqrt(np.einsum("ij,ij->i", rotation, rotation))[:, None]
    if not np.all(np.isfinite(rotation)):
        raise np.linalg.LinAlgError("rank-one update produced non-finite eigenvectors")
    return sigma**2, rotation


def eigh_rank_one_update(values, vectors, update) -> RankOneUpdatedEigh | None:
    """:class:`RankOneUpdatedEigh` of ``V diag(values) Vᵀ + update updateᵀ``, or None if the update fails
    (the caller then decomposes the matrix directly)."""
    try:
        result = RankOneUpdatedEigh(values, vectors, update)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(result.values)):
        return None
    return result
