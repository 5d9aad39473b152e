"""Where the heavy linear algebra runs: numpy/SciPy on the CPU, or torch (CUDA when present), in float64.

Metrics stay written in numpy; only the few O(N D^2) and O(D^3) operations go through a backend, and each
backend method takes and returns numpy float64 arrays. The torch backend therefore gives the same numbers
as the numpy one up to floating-point summation order (float64 on both).
"""

from __future__ import annotations

import functools
import weakref

import numpy as np
import scipy.linalg
import scipy.linalg.lapack

BACKEND_NAMES = ("auto", "numpy", "torch")
# Gram products run on row slabs of at least this many float64 entries (64 MiB): numpy's SYRK product is
# then as fast as one product over all rows, with no N×D array.
GRAM_SLAB_ENTRIES = 1 << 23


class NumpyBackend:
    """numpy/SciPy (LAPACK) on the CPU.

    The O(N·D²) and O(D³) calls go through numpy (its SYRK product, ``eigh`` and ``cholesky``), which
    releases the GIL: several models can then be scored at once in threads (``rank_models(n_jobs=2)``).
    SciPy's LAPACK wrappers hold the GIL, so they are kept to the cheap calls (triangular solves).
    """

    name = "numpy"
    device = "cpu"

    def gram(self, a: np.ndarray, b: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
        """``aᵀ diag(weights) b`` for a [N, D1], b [N, D2] (b defaults to a), weights [N]."""
        left = a if weights is None else a * weights[:, None]
        return left.T @ (a if b is None else b)

    def gram_sum(self, blocks, n_dims: int) -> np.ndarray:
        """``Σ_b bᵀ b`` [D, D] over an iterable of row blocks b [n_b, D] (no N×D array is ever needed).

        Each block is one numpy ``bᵀ @ b`` (SYRK, GIL released) into a D×D buffer, added to the total. Two
        D×D passes per block: pass blocks of a few thousand rows (``ClassStats`` uses slabs of
        ``GRAM_SLAB_ENTRIES``), where they cost a few per cent of the product.
        """
        acc = np.zeros((n_dims, n_dims))
        product = np.empty((n_dims, n_dims))
        for block in blocks:
            block = np.ascontiguousarray(block, dtype=np.float64)
            if block.shape[0]:
                np.matmul(block.T, block, out=product)
                np.add(acc, product, out=acc)
        return acc

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a @ b

    def eigh(self, sym: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues (ascending) and eigenvectors of a symmetric matrix [D, D].

        numpy's ``syevd`` (divide and conquer, lower triangle): for the full decomposition at D = 2,048 on one
        core it measured 1.69 s against 1.80 s for SciPy's ``evd``, 1.83 s for ``evr`` and 9.0 s for ``ev``,
        and unlike SciPy's wrapper it releases the GIL."""
        return np.linalg.eigh(sym)

    def eigh_top(self, sym: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k largest eigenvalues (ascending) and their eigenvectors of a symmetric matrix [D, D]: one
        tridiagonal reduction and k vectors (MRRR) instead of all D."""
        d = sym.shape[0]
        return scipy.linalg.eigh(sym, check_finite=False, driver="evr", subset_by_index=[d - k, d - 1])

    def logdet_eye_plus(self, sym: np.ndarray, scale: float) -> float:
        """``log det(I + scale·sym)`` for a symmetric PSD ``sym`` [k, k] and scale > 0 (Cholesky)."""
        k = sym.shape[0]
        mat = scale * np.asarray(sym, dtype=np.float64)
        mat.flat[:: k + 1] += 1.0
        try:
            # numpy's LAPACK, not SciPy's: the per-class loops alternate this with numpy products, and two
            # OpenBLAS thread pools taking turns spin against each other (several times slower on 2 cores).
            factor = np.linalg.cholesky(mat)
        except np.linalg.LinAlgError:  # only when round-off made sym indefinite beyond −1/scale
            return _logdet_eye_plus_eigvals(self, sym, scale)
        return 2.0 * float(np.log(np.diagonal(factor)).sum())

    def solve_psd(self, sym: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """Solve ``sym @ x = rhs`` for symmetric positive-definite ``sym`` (Cholesky; eigh fallback)."""
        return self.psd_solver(sym)(rhs)

    def psd_solver(self, sym: np.ndarray):
        """Factorise a symmetric positive-definite ``sym`` [D, D] once; returns ``solve(rhs)`` for rhs [D, k]
        (Cholesky; a pseudo-inverse from ``eigh`` where round-off makes ``sym`` indefinite)."""
        try:
            lower = np.linalg.cholesky(sym)  # numpy: the O(D³) factorisation runs without the GIL
        except np.linalg.LinAlgError:
            return _eigh_solver(self, sym)
        # Lᵀ of a C-ordered L is the Fortran-ordered upper factor: SciPy's two O(D²·k) triangular solves
        # take it without a copy.
        return lambda rhs: scipy.linalg.cho_solve((lower.T, False), rhs, check_finite=False)


class TorchBackend:
    """torch in float64 on ``device`` (``cuda`` when available). Large inputs stay cached on the device."""

    name = "torch"

    def __init__(self, device: str | None = None):
        import torch

        self._torch = torch
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = str(device)
        self._cache: list[tuple[weakref.ref, object]] = []

    def _t(self, arr: np.ndarray):
        torch = self._torch
        # Re-use the device copy of the last big arrays (features are sent once per model, not per call).
        if arr.size >= 1 << 16:
            for ref, tensor in self._cache:
                if ref() is arr:
                    return tensor
        # torch.tensor copies, so read-only feature views are fine (as_tensor would warn on them).
        tensor = torch.tensor(np.asarray(arr, dtype=np.float64), device=self.device)
        if arr.size >= 1 << 16:
            try:
                self._cache = [(r, t) for r, t in self._cache if r() is not None][-1:]
                self._cache.append((weakref.ref(arr), tensor))
            except TypeError:  # objects without weak references are simply not cached
                pass
        return tensor

    def _np(self, tensor) -> np.ndarray:
        return tensor.detach().cpu().numpy()

    def gram(self, a, b=None, weights=None):
        ta = self._t(a)
        tb = ta if b is None else self._t(b)
        if weights is not None:
            ta = ta * self._t(weights)[:, None]
        return self._np(ta.T @ tb)

    def gram_sum(self, blocks, n_dims):
        acc = self._torch.zeros((n_dims, n_dims), dtype=self._torch.float64, device=self.device)
        for block in blocks:
            if block.shape[0]:
                tb = self._torch.tensor(np.asarray(block, dtype=np.float64), device=self.device)
                acc.addmm_(tb.T, tb)
        return self._np(acc)

    def matmul(self, a, b):
        return self._np(self._t(a) @ self._t(b))

    def eigh(self, sym):
        w, v = self._torch.linalg.eigh(self._t(sym))
        return self._np(w), self._np(v)

    def eigh_top(self, sym, k):
        w, v = self.eigh(sym)
        return w[-k:], v[:, -k:]

    def logdet_eye_plus(self, sym, scale):
        torch = self._torch
        mat = scale * self._t(sym)
        mat.diagonal().add_(1.0)
        factor, info = torch.linalg.cholesky_ex(mat)
        if int(info) != 0:
            return _logdet_eye_plus_eigvals(self, sym, scale)
        return 2.0 * float(torch.log(factor.diagonal()).sum())

    def solve_psd(self, sym, rhs):
        return self.psd_solver(sym)(rhs)

    def psd_solver(self, sym):
        torch = self._torch
        factor, info = torch.linalg.cholesky_ex(self._t(sym))
        if int(info) != 0:
            return _eigh_solver(self, sym)
        return lambda rhs: self._np(torch.cholesky_solve(self._t(rhs), factor))


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


def _logdet_eye_plus_eigvals(backend, sym: np.ndarray, scale: float) -> float:
    values = backend.eigh(np.asarray(sym, dtype=np.float64))[0]
    return float(np.log1p(scale * np.maximum(values, 0.0)).sum())


def _eigh_solver(backend, sym: np.ndarray):
    """Pseudo-inverse solver for a singular or indefinite PSD matrix (eigenvalues below 1e-12·max dropped)."""
    w, v = backend.eigh(sym)
    keep = w > max(w.max(), 0.0) * 1e-12
    basis, values = v[:, keep], w[keep][:, None]
    return lambda rhs: basis @ ((basis.T @ rhs) / values)


@functools.lru_cache(maxsize=8)
def _torch_backend(device: str | None) -> TorchBackend:
    return TorchBackend(device)


def get_backend(backend: str | NumpyBackend | TorchBackend = "auto", device: str | None = None):
    """Resolve a backend name: ``numpy``; ``torch`` (on ``device``, default CUDA when present, else CPU);
    ``auto`` = torch on CUDA when a GPU is visible, otherwise numpy."""
    if not isinstance(backend, str):
        return backend
    if backend not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKEND_NAMES}.")
    if backend == "numpy":
        return NumpyBackend()
    if backend == "auto":
        if device in (None, "cuda") and _cuda_available():
            return _torch_backend("cuda")
        if device not in (None, "cpu"):
            return _torch_backend(device)
        return NumpyBackend()
    try:
        return _torch_backend(device)
    except ImportError as err:  # pragma: no cover - torch is a pinned dependency
        raise ValueError("backend='torch' needs PyTorch; run the README's setup command.") from err


@functools.lru_cache(maxsize=1)
def _cuda_available() -> bool:
    import glob
    import sys

    # Importing torch costs seconds; skip it when it is not loaded yet and no NVIDIA device exists.
    if "torch" not in sys.modules and not glob.glob("/dev/nvidia[0-9]*"):
        return False
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return bool(torch.cuda.is_available())
