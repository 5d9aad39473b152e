"""Sufficient statistics of one feature set, computed once and shared by every metric.

Most transferability metrics are functions of a handful of quantities: class counts and means, the
total / within / between scatter matrices and one eigendecomposition. Computing them once per model (and
lazily: only what some metric asks for) is what makes scoring a whole zoo fast.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse

from ._backend import get_backend
from ._validation import as_features, as_labels


class ClassStats:
    """Validated features and labels plus lazily computed, shared statistics.

    Parameters
    ----------
    features : array [N, D]
        Any real dtype; held as read-only float64.
    labels : int array [N]
        Contiguous class indices 0..C-1, every class present, C >= 2.
    backend : "auto" | "numpy" | "torch"
        Where the O(N D²) and O(D³) work runs (see :mod:`transvis.metrics._backend`).
    device : str, optional
        Torch device for ``backend="torch"``.

    All matrices use the biased (divide-by-N) convention of the official SFDA-family code unless the name
    says otherwise.
    """

    def __init__(self, features, labels, *, backend="auto", device=None):
        self._source = features
        self.features = as_features(features)
        self.labels = as_labels(labels, self.features.shape[0])
        self.backend = get_backend(backend, device)
        self.n_samples, self.n_dims = self.features.shape
        self.n_classes = int(self.labels.max()) + 1
        self.counts = np.bincount(self.labels, minlength=self.n_classes)
        self.priors = self.counts / self.n_samples
        self.mean = self.features.mean(axis=0)

    def matches(self, features, labels) -> bool:
        """True when these statistics were built from ``features`` (same object) and equal ``labels``."""
        same_x = features is self._source or features is self.features
        if not same_x:
            return False
        return labels is self.labels or np.array_equal(np.asarray(labels), self.labels)

    @cached_property
    def indicator(self) -> scipy.sparse.csr_matrix:
        """Sparse one-hot [C, N]: ``indicator @ X`` sums rows per class."""
        n = self.n_samples
        return scipy.sparse.csr_matrix(
            (np.ones(n), (self.labels, np.arange(n))), shape=(self.n_classes, n)
        )

    @cached_property
    def class_means(self) -> np.ndarray:
        """Class means μ_c [C, D]."""
        return np.asarray(self.indicator @ self.features) / self.counts[:, None]

    @cached_property
    def class_indices(self) -> list[np.ndarray]:
        """Row indices of each class, in order of appearance."""
        order = np.argsort(self.labels, kind="stable")
        return np.split(order, np.cumsum(self.counts)[:-1])

    @cached_property
    def centered(self) -> np.ndarray:
        """X − μ [N, D] (a new array)."""
        return self.features - self.mean

    @cached_property
    def total_scatter(self) -> np.ndarray:
        """S_T = Cov(X) with bias=1 [D, D]."""
        return self.backend.gram(self.centered) / self.n_samples

    @cached_property
    def between_scatter(self) -> np.ndarray:
        """S_B = Σ_c π_c (μ_c − μ)(μ_c − μ)ᵀ [D, D] (prior-weighted, as in SFDA)."""
        diff = self.class_means - self.mean
        return (diff * self.priors[:, None]).T @ diff

    @cached_property
    def within_scatter(self) -> np.ndarray:
        """S_W = Σ_c π_c Cov_bias(X_c) = S_T − S_B [D, D]."""
        return self.total_scatter - self.between_scatter

    @cached_property
    def total_eigh(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues (descending) and eigenvectors (columns) of S_T."""
        w, v = self.backend.eigh(self.total_scatter)
        return w[::-1].copy(), v[:, ::-1].copy()

    @cached_property
    def raw_gram(self) -> np.ndarray:
        """XᵀX [D, D] of the uncentred features (LogME's design matrix)."""
        return self.backend.gram(self.features)

    @cached_property
    def raw_sample_gram(self) -> np.ndarray:
        """XXᵀ [N, N] of the uncentred features (the smaller form when N < D)."""
        return self.backend.matmul(self.features, self.features.T)


def ensure_stats(features, labels, stats: ClassStats | None = None, *, backend="auto", device=None) -> ClassStats:
    """Return ``stats`` when it was built from these arrays, otherwise build (and validate) new ones."""
    if stats is not None:
        if not isinstance(stats, ClassStats):
            raise ValueError(f"stats must be a ClassStats; got {type(stats).__name__}.")
        if stats.matches(features, labels):
            return stats
    return ClassStats(features, labels, backend=backend, device=device)
