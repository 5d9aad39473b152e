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

BACKEND_NAMES = ("auto", "numpy", "torch")


class NumpyBackend:
    """numpy/SciPy (LAPACK) on the CPU."""

    name = "numpy"
    device = "cpu"

    def gram(self, a: np.ndarray, b: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
        """``aᵀ diag(weights) b`` for a [N, D1], b [N, D2] (b defaults to a), weights [N]."""
        left = a if weights is None else a * weights[:, None]
        return left.T @ (a if b is None else b)

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a @ b

    def eigh(self, sym: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues (ascending) and eigenvectors of a symmetric matrix [D, D]."""
        return scipy.linalg.eigh(sym, check_finite=False, driver="evd")

    def solve_psd(self, sym: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """Solve ``sym @ x = rhs`` for symmetric positive-definite ``sym`` (Cholesky; eigh fallback)."""
        try:
            factor = scipy.linalg.cho_factor(sym, lower=True, check_finite=False)
            return scipy.linalg.cho_solve(factor, rhs, check_finite=False)
        except np.linalg.LinAlgError:
            return _eigh_solve(self, sym, rhs)


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

    def matmul(self, a, b):
        return self._np(self._t(a) @ self._t(b))

    def eigh(self, sym):
        w, v = self._torch.linalg.eigh(self._t(sym))
        return self._np(w), self._np(v)

    def solve_psd(self, sym, rhs):
        torch = self._torch
        factor, info = torch.linalg.cholesky_ex(self._t(sym))
        if int(info) != 0:
            return _eigh_solve(self, sym, rhs)
        return self._np(torch.cholesky_solve(self._t(rhs), factor))


def _eigh_solve(backend, sym: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Pseudo-inverse solve for a singular or indefinite PSD matrix (eigenvalues below 1e-12·max dropped)."""
    w, v = backend.eigh(sym)
    keep = w > max(w.max(), 0.0) * 1e-12
    return v[:, keep] @ ((v[:, keep].T @ rhs) / w[keep][:, None])


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
