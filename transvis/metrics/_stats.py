"""Sufficient statistics of one feature set, computed once and shared by every metric.

Most transferability metrics are functions of a handful of quantities: class counts and means, the
total / within / between scatter matrices and one eigendecomposition. Computing them once per model (and
lazily: only what some metric asks for) is what makes scoring a whole zoo fast:

- one O(N·D²) Gram per model (S_T, accumulated over row slabs written into one reused buffer, so no N×D
  temporary: :meth:`ClassStats.row_gram`); XᵀX = N·(S_T + μμᵀ) and its eigendecomposition (a rank-one
  update of S_T's) follow from it;
- one O(D³) eigendecomposition of S_T (``total_eigh``; ``top_eigh`` reads PCA bases off it);
- :meth:`ClassStats.moved` derives, exactly and without another pass over the samples, the statistics of
  features whose classes were moved and/or scaled about their means (PED, FSP);
- :meth:`ClassStats.memo` keeps deterministic metric results, so a wrapper (PED, FSP) that needs the plain
  score on the same features does not compute it twice;
- blockwise primitives (:meth:`ClassStats.affine_row_scatter`, :meth:`ClassStats.class_residual_sums`,
  :meth:`ClassStats.centered_dot`, ...) let a metric use per-sample transforms of the rows (SFDA's ConfMix)
  without forming them; on moved statistics they run on the base rows.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse

from ._lazy import LazyMap
from ._backend import GRAM_SLAB_ENTRIES, get_backend
from ._eigen_update import DenseEigh, eigh_rank_one_update
from ._validation import as_features, as_labels, extreme_scale, magnitude

class cached_property:  # noqa: N801 - a drop-in for functools.cached_property
    """``functools.cached_property`` without its lock.

    Before Python 3.12 that lock is shared by every instance, so while one thread computes, say, the S_T
    eigendecomposition of one model, a thread scoring another model waits for it before it may start its
    own (``rank_models(n_jobs=2)`` lost ~1 s per model to this). Like 3.12's version, two threads asking
    for the same attribute of the same instance at once may both compute it (the same value).
    """

    def __init__(self, func):
        self.func = func
        self.attrname = None
        self.__doc__ = func.__doc__

    def __set_name__(self, owner, name):
        self.attrname = name

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        cache = instance.__dict__
        try:
            return cache[self.attrname]
        except KeyError:
            value = cache[self.attrname] = self.func(instance)
            return value


# Row blocks of at most this many float64 entries (8 MiB): per-block temporaries are then served from the
# allocator's heap instead of fresh pages, and no N×D temporary is ever needed.
_BLOCK_ENTRIES = 1 << 20


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

    unit_scale : float
        What the caller's features were divided by to give ``features`` (1.0 unless these are the statistics
        :meth:`rescaled` built for features of extreme magnitude). Metrics whose maths has an absolute constant
        (a variance floor, a shrinkage rule, a distortion ε, a temperature) convert it with this factor, so
        the rescaled computation is the same mathematics as the original one.

    All matrices use the biased (divide-by-N) convention of the official SFDA-family code unless the name
    says otherwise.
    """

    unit_scale = 1.0

    def __init__(self, features, labels, *, backend="auto", device=None, unit_scale: float = 1.0):
        self._source = features
        self.unit_scale = float(unit_scale)
        self.features = as_features(features)
        self.labels = as_labels(labels, self.features.shape[0])
        self.backend = get_backend(backend, device)
        self.n_samples, self.n_dims = self.features.shape
        self.n_classes = int(self.labels.max()) + 1
        self.counts = np.bincount(self.labels, minlength=self.n_classes)
        self.priors = self.counts / self.n_samples
        self.mean = self.features.mean(axis=0)
        self._results: dict = {}

    def matches(self, features, labels) -> bool:
        """True when these statistics were built from ``features`` (same object) and equal ``labels``."""
        same_x = features is self._source or features is self.features
        if not same_x:
            return False
        return labels is self.labels or np.array_equal(np.asarray(labels), self.labels)

    # -- feature scale ------------------------------------------------------------------------------------
    @cached_property
    def magnitude(self) -> float:
        """Largest |x| of the features (O(N·D) once)."""
        return magnitude(self.features)

    @cached_property
    def extreme_scale(self) -> float:
        """Power of two the features are divided by before the maths (:meth:`rescaled`), 1.0 for every
        magnitude inside ``_validation.SAFE_MAGNITUDE`` [2^-64, 2^64] (i.e. all real features)."""
        return extreme_scale(self.magnitude)

    def rescaled(self) -> "ClassStats":
        """These statistics, or, for features of extreme magnitude, those of ``features / extreme_scale``
        (an exact division by a power of two; built once and kept), whose ``unit_scale`` records the factor.

        Every metric computes on these (:func:`metric_stats`): scale-invariant metrics then give the same
        score as at unit scale instead of NaN or 0 from overflowing squares; scale-dependent ones convert
        their absolute constants with ``unit_scale`` or raise a ``ValueError`` that names the fix.
        """
        scale = self.extreme_scale
        if scale == 1.0:
            return self
        cached = self.__dict__.get("_rescaled")
        if cached is None:
            cached = self.__dict__["_rescaled"] = ClassStats(
                self.features / scale, self.labels, backend=self.backend, unit_scale=self.unit_scale * scale
            )
        return cached

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
        """S_T = Cov(X) with bias=1 [D, D] (accumulated over row slabs of X − μ)."""
        features, mean = self.features, self.mean

        def centred(rows, out):
            np.subtract(features[rows], mean, out=out)

        return self.row_gram(centred) / self.n_samples

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

    def top_eigh(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k largest eigenvalues of S_T (descending) [k] and their eigenvectors [D, k] (PCA bases).

        Read off ``total_eigh`` when it is already computed; otherwise a partial eigendecomposition (about a
        third of the cost), cached. The two agree to round-off (up to eigenvector signs).
        """
        k = int(min(max(k, 1), self.n_dims))
        if "total_eigh" in self.__dict__:
            values, vectors = self.total_eigh
            return values[:k], vectors[:, :k]
        cached = self.__dict__.get("_top_eigh")
        if cached is None or cached[0].size < k:
            w, v = self.backend.eigh_top(self.total_scatter, k)
            cached = self.__dict__["_top_eigh"] = (w[::-1].copy(), v[:, ::-1].copy())
        return cached[0][:k], cached[1][:, :k]

    @cached_property
    def raw_gram(self) -> np.ndarray:
        """XᵀX = N·(S_T + μμᵀ) [D, D] of the uncentred features (LogME's design matrix), from the shared S_T
        (a sum of two PSD terms: no cancellation, and no second N×D² product)."""
        return self.n_samples * (self.total_scatter + np.outer(self.mean, self.mean))

    @cached_property
    def raw_gram_eigh(self):
        """Eigendecomposition of XᵀX [D, D]: ``.values`` [D] descending, ``.project(rows)`` = rows @ V,
        ``.expand(coef)`` = coef @ Vᵀ, ``.vectors``.

        XᵀX/N = S_T + μμᵀ is a rank-one update of the shared ``total_eigh`` (O(D²), see
        :class:`~transvis.metrics._eigen_update.RankOneUpdatedEigh`) instead of a second O(D³) decomposition;
        a direct eigendecomposition of ``raw_gram`` is the fallback.
        """
        values, vectors = self.total_eigh
        updated = eigh_rank_one_update(values, vectors, self.mean)
        if updated is not None:
            updated.values = updated.values * self.n_samples
            return updated
        w, v = self.backend.eigh(self.raw_gram)
        return DenseEigh(w[::-1].copy(), v[:, ::-1].copy())

    @cached_property
    def raw_sample_gram(self) -> np.ndarray:
        """XXᵀ [N, N] of the uncentred features (the smaller form when N < D)."""
        return self.backend.matmul(self.features, self.features.T)

    # -- blockwise access (no N×D temporaries) ------------------------------------------------------------
    def row_blocks(self):
        """Consecutive row slices covering 0..N-1, each with at most ~1M entries (8 MiB of float64)."""
        step = max(1, _BLOCK_ENTRIES // max(self.n_dims, 1))
        return [slice(start, min(start + step, self.n_samples)) for start in range(0, self.n_samples, step)]

    def _block_buffer(self) -> np.ndarray:
        """A scratch array for one row block [min(N, block rows), D] (re-used across the blocks of a pass)."""
        rows = min(self.n_samples, max(1, _BLOCK_ENTRIES // max(self.n_dims, 1)))
        return np.empty((rows, self.n_dims))

    def row_gram(self, fill) -> np.ndarray:
        """``Σ_i e_i e_iᵀ`` [D, D] of rows that ``fill(rows, out)`` writes for a row slice into ``out`` [n_rows, D].

        The rows are written in cache-sized pieces (:meth:`row_blocks`) straight into one reused slab of
        ``GRAM_SLAB_ENTRIES``, and each slab is one Gram product (``backend.gram_sum``): no N×D array and no
        allocation per block.
        """
        n, d = self.n_samples, self.n_dims
        blocks = self.row_blocks()
        slab_rows = min(n, max(GRAM_SLAB_ENTRIES // max(d, 1), max(b.stop - b.start for b in blocks)))
        slab = np.empty((slab_rows, d))

        def slabs():
            start = 0  # first row held in the slab
            for rows in blocks:
                if rows.stop - start > slab_rows:  # the slab is full: hand it over, then refill it
                    yield slab[: rows.start - start]
                    start = rows.start
                fill(rows, slab[rows.start - start: rows.stop - start])
            yield slab[: n - start]

        return self.backend.gram_sum(slabs(), d)

    def _residuals_into(self, rows: slice, out: np.ndarray) -> np.ndarray:
        """Write x_i − μ_{y_i} for a row slice into ``out`` [n_rows, D] (no temporary)."""
        np.take(self.class_means, self.labels[rows], axis=0, out=out, mode="clip")  # labels are in range
        np.subtract(self.features[rows], out, out=out)
        return out

    def residual_rows(self, index) -> np.ndarray:
        """x_i − μ_{y_i} [len(index), D] for the rows ``index`` (a new array)."""
        index = np.asarray(index)
        return self.features[index] - self.class_means[self.labels[index]]

    def class_residual_sums(self, weights) -> np.ndarray:
        """``Σ_{i∈c} w_i (x_i − μ_c)`` [C, D] for per-sample weights w [N] (one blockwise pass)."""
        weights = np.asarray(weights, dtype=np.float64)
        total = np.zeros((self.n_classes, self.n_dims))
        buffer = self._block_buffer()
        for rows in self.row_blocks():
            resid = self._residuals_into(rows, buffer[: rows.stop - rows.start])
            total += self.block_indicator(rows, weights[rows]) @ resid
        return total

    def affine_row_scatter(self, weights, centres, offsets) -> np.ndarray:
        """``(1/N) Σ_i e_i e_iᵀ`` [D, D] with ``e_i = w_i (x_i − u_{y_i}) − v_{y_i}``.

        weights w [N]; centres u [C, D]; offsets v [C, D]. One Gram pass over the rows (:meth:`row_gram`);
        e.g. the within-class scatter of SFDA's ConfMix-ed features.
        """
        weights = np.asarray(weights, dtype=np.float64)
        centres = np.asarray(centres, dtype=np.float64)
        offsets = np.asarray(offsets, dtype=np.float64)
        features, labels = self.features, self.labels
        gathered = self._block_buffer()

        def rows_of(rows, out):
            y = labels[rows]
            np.take(centres, y, axis=0, out=out, mode="clip")  # ("clip": unbuffered; labels are in range)
            np.subtract(features[rows], out, out=out)
            out *= weights[rows, None]
            offset = np.take(offsets, y, axis=0, out=gathered[: out.shape[0]], mode="clip")
            out -= offset

        return self.row_gram(rows_of) / self.n_samples

    def residual_blocks(self):
        """Yield ``(rows, r)`` with r = x_i − μ_{y_i} [n_rows, D] for consecutive row slices (a new array each:
        the caller may overwrite it)."""
        for rows in self.row_blocks():
            yield rows, self.features[rows] - self.class_means[self.labels[rows]]

    def block_indicator(self, rows: slice, weights: np.ndarray | None = None) -> scipy.sparse.csr_matrix:
        """Sparse one-hot [C, n_rows] of a row slice (optionally weighted): ``block_indicator(rows) @ a``
        sums the rows of ``a`` per class."""
        labels = self.labels[rows]
        data = np.ones(labels.size) if weights is None else np.asarray(weights, dtype=np.float64)
        return scipy.sparse.csr_matrix((data, (labels, np.arange(labels.size))), shape=(self.n_classes, labels.size))

    @cached_property
    def class_variances(self) -> np.ndarray:
        """Per-class, per-dimension population variances ``mean_{i∈c} (x_id − μ_cd)²`` [C, D] (two-pass)."""
        total = np.zeros((self.n_classes, self.n_dims))
        buffer = self._block_buffer()
        for rows in self.row_blocks():
            resid = self._residuals_into(rows, buffer[: rows.stop - rows.start])
            np.square(resid, out=resid)
            total += self.block_indicator(rows) @ resid
        return total / self.counts[:, None]

    def centered_blocks(self):
        """Yield ``(rows, x − μ)`` [n_rows, D] for consecutive row slices (a new array each)."""
        for rows in self.row_blocks():
            yield rows, self.features[rows] - self.mean

    def centered_dot(self, matrix: np.ndarray) -> np.ndarray:
        """``(X − μ) @ matrix`` [N, k] for matrix [D, k], block by block (``centered`` is not materialised)."""
        matrix = np.asarray(matrix, dtype=np.float64)
        out = np.empty((self.n_samples, matrix.shape[1]))
        buffer = self._block_buffer()
        for rows in self.row_blocks():
            block = np.subtract(self.features[rows], self.mean, out=buffer[: rows.stop - rows.start])
            out[rows] = self.backend.matmul(block, matrix)
        return out

    def centered_tdot(self, matrix: np.ndarray) -> np.ndarray:
        """``(X − μ)ᵀ @ matrix`` [D, k] for matrix [N, k], accumulated block by block."""
        matrix = np.asarray(matrix, dtype=np.float64)
        out = np.zeros((self.n_dims, matrix.shape[1]))
        buffer = self._block_buffer()
        for rows in self.row_blocks():
            block = np.subtract(self.features[rows], self.mean, out=buffer[: rows.stop - rows.start])
            out += self.backend.matmul(block.T, matrix[rows])
        return out

    def centered_row_norms2(self) -> np.ndarray:
        """‖x_i − μ‖² [N], block by block."""
        out = np.empty(self.n_samples)
        for rows, block in self.centered_blocks():
            out[rows] = np.einsum("ij,ij->i", block, block)
        return out

    # -- shared results and derived statistics ------------------------------------------------------------
    def memo(self, key, build):
        """``build()`` once per hashable ``key`` on these statistics (e.g. a deterministic metric's result,
        which a wrapper metric asks for again). Metric results come back as shallow copies."""
        try:
            hash(key)
        except TypeError:
            return build()
        results = self.__dict__.setdefault("_results", {})
        if key not in results:
            results[key] = build()
        value = results[key]
        if dataclasses.is_dataclass(value) and hasattr(value, "trace"):
            trace = value.trace.copy() if isinstance(value.trace, LazyMap) else dict(value.trace)  # lazy stays lazy
            return dataclasses.replace(value, trace=trace, params=dict(value.params))
        return value

    def within_memo(self, key, build):
        """:meth:`memo` for values that depend only on the within-class scatter S_W: statistics derived by a
        rigid class shift (:meth:`moved` with ``residual_scale=1``) share them with their base."""
        return self.memo(key, build)

    def subset(self, rows) -> "ClassStats":
        """Statistics of the samples ``rows`` (an index array keeping at least one sample of every class),
        equal to ``ClassStats(features[rows], labels[rows])`` up to round-off, with less work: the rows are
        taken from the validated float64 features (no conversion or re-validation), and when this model's S_T
        is already computed and ``rows`` leaves out under half of the samples, the subset's S_T is derived
        from it and a Gram of the *left-out* rows only (:class:`SubsetClassStats`): a stratified 80 % replicate
        (:mod:`transvis.uncertainty`) then costs 0.2 instead of 0.8 of the N·D² product.
        """
        return SubsetClassStats(self, rows)

    def moved(self, class_means, *, residual_scale: float = 1.0, features=None) -> "MovedClassStats":
        """Statistics of the class-wise affine move ``x'_i = μ'_{y_i} + s·(x_i − μ_{y_i})``.

        class_means : μ' [C, D]; residual_scale : s ≥ 0. The within-class scatter is s²·S_W (the residuals
        are scaled, not recomputed), so PED's rigid class shifts (s = 1) and FSP's Spread/Attract cost
        O(C·D²) instead of another O(N·D²) pass. ``features``, a zero-argument function returning the moved
        [N, D] features as a new array (then made read-only), fixes how they are materialised when a metric
        needs the rows themselves; by default ``μ'_{y_i} + s·(x_i − μ_{y_i})``, block by block.
        """
        return MovedClassStats(self, class_means, residual_scale=residual_scale, features=features)


def ensure_stats(features, labels, stats: ClassStats | None = None, *, backend="auto", device=None) -> ClassStats:
    """Return ``stats`` when it was built from these arrays, otherwise build (and validate) new ones."""
    if stats is not None:
        if not isinstance(stats, ClassStats):
            raise ValueError(f"stats must be a ClassStats; got {type(stats).__name__}.")
        if stats.matches(features, labels):
            return stats
    return ClassStats(features, labels, backend=backend, device=device)


def metric_stats(features, labels, stats: ClassStats | None = None, *, backend="auto", device=None) -> ClassStats:
    """:func:`ensure_stats`, then :meth:`ClassStats.rescaled`: the statistics a metric computes on.

    For features of extreme magnitude (largest |x| outside [2^-64, 2^64]) these are the statistics of the
    features divided by a power of two, with ``unit_scale`` set to it; otherwise ``stats`` itself.
    """
    return ensure_stats(features, labels, stats, backend=backend, device=device).rescaled()


def feature_rms(stats: ClassStats) -> float:
    """RMS deviation of the features from their mean per dimension, ``sqrt(tr S_T / D)``, in the units of the
    features the caller passed (undoing ``unit_scale``). O(N·D) once (the shared ``class_variances``); used to
    word the reasons of degenerate scores, never in a score."""
    work = stats.rescaled()
    between = ((work.class_means - work.mean) ** 2).sum(axis=1)
    total = float(work.priors @ (work.class_variances.sum(axis=1) + between))
    return float(np.sqrt(max(total, 0.0) / work.n_dims) * work.unit_scale)


class LabelsSharedWithBase:
    """Mixin for statistics derived from ``self._base`` (a :class:`ClassStats` of the same labels): the
    one-hot indicator and the class indices are the base's, not rebuilt."""

    @cached_property
    def indicator(self):
        return self._base.indicator

    @cached_property
    def class_indices(self):
        return self._base.class_indices


class MovedClassStats(LabelsSharedWithBase, ClassStats):
    """:class:`ClassStats` of ``x'_i = μ'_{y_i} + s·(x_i − μ_{y_i})`` derived from the base statistics.

    Exact by construction (no new pass over the samples): counts, priors, labels, indicator and class
    indices are the base's; class means are μ'; the mean is Σ π_c μ'_c; S_W' = s²·S_W (the same residuals,
    scaled); S_B' from μ'; S_T' = S_W' + S_B'; XᵀX' = N·(S_T' + μ'μ'ᵀ); per-class variances s²× the base's.
    ``features`` (and what needs the rows themselves: ``centered``, ``raw_sample_gram``) are materialised
    only when a metric asks for them.
    """

    def __init__(self, base: ClassStats, class_means, *, residual_scale: float = 1.0, features=None):
        scale = float(residual_scale)
        if not (np.isfinite(scale) and scale >= 0.0):
            raise ValueError(f"residual_scale must be a finite number >= 0; got {residual_scale!r}.")
        means = np.array(class_means, dtype=np.float64)
        if means.shape != base.class_means.shape:
            raise ValueError(f"class_means must have shape {base.class_means.shape}; got {means.shape}.")
        means.flags.writeable = False
        self._base = base
        self._source = None
        self._build_features = features
        self.unit_scale = base.unit_scale
        self.residual_scale = scale
        self.labels = base.labels
        self.backend = base.backend
        self.n_samples, self.n_dims, self.n_classes = base.n_samples, base.n_dims, base.n_classes
        self.counts = base.counts
        self.priors = base.priors
        self.class_means = means
        self.mean = self.priors @ means
        self._results = {}

    @property
    def extreme_scale(self) -> float:
        """The base's: the moves are relative to the base geometry, and the rows are not read to find it."""
        return self._base.extreme_scale

    def rescaled(self) -> "MovedClassStats":
        """The same move of the base's :meth:`rescaled` statistics (features built, if ever, divided by the
        same power of two)."""
        scale = self.extreme_scale
        if scale == 1.0:
            return self
        cached = self.__dict__.get("_rescaled")
        if cached is None:
            build = self._build_features
            features = None if build is None else (lambda: np.asarray(build(), dtype=np.float64) / scale)
            cached = self.__dict__["_rescaled"] = self._base.rescaled().moved(
                self.class_means / scale, residual_scale=self.residual_scale, features=features
            )
        return cached

    @cached_property
    def features(self) -> np.ndarray:
        if self._build_features is not None:
            out = np.asarray(self._build_features(), dtype=np.float64)  # a new array, owned from here on
            if out.shape != (self.n_samples, self.n_dims):
                raise ValueError(f"moved features must have shape {(self.n_samples, self.n_dims)}; got {out.shape}.")
        else:
            out = np.empty((self.n_samples, self.n_dims))
            for rows, resid in self._base.residual_blocks():
                if self.residual_scale != 1.0:
                    resid *= self.residual_scale
                np.add(resid, self.class_means[self.labels[rows]], out=out[rows])
        out.flags.writeable = False
        return out

    @cached_property
    def within_scatter(self) -> np.ndarray:
        base = self._base.within_scatter
        return base if self.residual_scale == 1.0 else self.residual_scale**2 * base

    @cached_property
    def total_scatter(self) -> np.ndarray:
        return self.within_scatter + self.between_scatter

    @cached_property
    def class_variances(self) -> np.ndarray:
        base = self._base.class_variances
        return base if self.residual_scale == 1.0 else self.residual_scale**2 * base

    def within_memo(self, key, build):
        if self.residual_scale == 1.0:  # the same residuals: S_W is the base's
            return self._base.within_memo(key, build)
        return self.memo(key, build)

    def matches(self, features, labels) -> bool:
        """Derived statistics also match ``features=None``: a metric called as ``fn(None, labels,
        stats=moved)`` works from the derived statistics and materialises the rows only if it reads
        ``stats.features``."""
        if features is not None and features is not self.__dict__.get("features"):
            return False
        return labels is self.labels or np.array_equal(np.asarray(labels), self.labels)

    def residual_blocks(self):
        for rows, resid in self._base.residual_blocks():
            if self.residual_scale != 1.0:
                resid *= self.residual_scale
            yield rows, resid

    def _residuals_into(self, rows, out):
        self._base._residuals_into(rows, out)
        if self.residual_scale != 1.0:
            out *= self.residual_scale
        return out

    def residual_rows(self, index) -> np.ndarray:
        out = self._base.residual_rows(index)
        if self.residual_scale != 1.0:
            out *= self.residual_scale
        return out

    def class_residual_sums(self, weights) -> np.ndarray:
        base = self._base.class_residual_sums(weights)
        return base if self.residual_scale == 1.0 else self.residual_scale * base

    def affine_row_scatter(self, weights, centres, offsets) -> np.ndarray:
        # x'_i = s·x_i + t_c with t_c = μ'_c − s·μ_c, so w_i (x'_i − u_c) − v_c = (s·w_i)(x_i − (u_c − t_c)/s) − v_c:
        # the same Gram pass over the base rows, without materialising the moved ones.
        scale = self.residual_scale
        if scale == 0.0:
            return ClassStats.affine_row_scatter(self, weights, centres, offsets)
        base = self._base
        shift = self.class_means - scale * base.class_means
        centres = np.asarray(centres, dtype=np.float64) - shift
        weights = np.asarray(weights, dtype=np.float64)
        if scale != 1.0:
            centres = centres / scale
            weights = weights * scale
        return base.affine_row_scatter(weights, centres, offsets)

    def centered_dot(self, matrix: np.ndarray) -> np.ndarray:
        # x'_i − x̄' = s·(x_i − x̄) + (μ'_c − x̄') − s·(μ_c − x̄): one product with the base's centred rows.
        matrix = np.asarray(matrix, dtype=np.float64)
        base = self._base
        offsets = ((self.class_means - self.mean) - self.residual_scale * (base.class_means - base.mean)) @ matrix
        out = base.centered_dot(matrix)
        if self.residual_scale != 1.0:
            out *= self.residual_scale
        step = max(1, (1 << 16) // max(out.shape[1], 1))  # small per-block gathers, no N×k temporary
        for start in range(0, self.n_samples, step):
            rows = slice(start, min(start + step, self.n_samples))
            out[rows] += offsets[self.labels[rows]]
        return out


class SubsetClassStats(ClassStats):
    """:class:`ClassStats` of the samples ``rows`` of ``base`` (see :meth:`ClassStats.subset`).

    With L the left-out rows and μ the base mean, Σ_{i∈rows} (x_i − μ)(x_i − μ)ᵀ = N·S_T − Σ_{i∈L} (x_i − μ)(x_i − μ)ᵀ,
    and S_T' = that / m − (μ' − μ)(μ' − μ)ᵀ for the m kept samples of mean μ': exact, and as accurate as a
    fresh Gram (no cancellation beyond the 1/m-scaled rank-one term, which is small: μ' is close to μ).
    Everything else is computed from the subset's rows as :class:`ClassStats` does.
    """

    def __init__(self, base: ClassStats, rows):
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
            raise ValueError(f"rows must be a 1-D index array or boolean mask; got {rows.dtype} {rows.shape}.")
        labels = base.labels[rows]
        counts = np.bincount(labels, minlength=base.n_classes)
        if counts.min() == 0:
            raise ValueError(f"a subset must keep every class; class {int(np.argmin(counts))} has no sample in it. "
                             "Draw stratified subsets (transvis.uncertainty.Resampling.subsets).")
        self._base = base
        self._rows = rows
        self._source = None
        self.unit_scale = base.unit_scale
        features = base.features[rows]
        features.flags.writeable = False
        self.features = features
        labels.flags.writeable = False
        self.labels = labels
        self.backend = base.backend
        self.n_samples, self.n_dims = features.shape
        self.n_classes = base.n_classes
        self.counts = counts
        self.priors = counts / self.n_samples
        self.mean = features.mean(axis=0)
        self._results = {}

    def matches(self, features, labels) -> bool:
        same_x = features is self.features
        return same_x and (labels is self.labels or np.array_equal(np.asarray(labels), self.labels))

    @cached_property
    def total_scatter(self) -> np.ndarray:
        base = self._base
        left_out = base.n_samples - self.n_samples
        if "total_scatter" not in base.__dict__ or not 0 < left_out < base.n_samples / 2 \
                or np.unique(self._rows).size != self._rows.size:
            return ClassStats.total_scatter.func(self)
        keep = np.ones(base.n_samples, dtype=bool)
        keep[self._rows] = False
        dropped = np.flatnonzero(keep)
        features, mean = base.features, base.mean
        step = max(1, GRAM_SLAB_ENTRIES // max(self.n_dims, 1))
        blocks = (features[dropped[start:start + step]] - mean for start in range(0, dropped.size, step))
        kept_sum = base.n_samples * np.asarray(base.total_scatter) - self.backend.gram_sum(blocks, self.n_dims)
        shift = self.mean - mean
        return kept_sum / self.n_samples - np.outer(shift, shift)
