"""What a trajectory needs from each model's unperturbed features (computed once, cached), and frame specs.

Every dynamics in this package moves the features by a *per-class affine map*

    x'_i = x_i + s·(x_i − μ_{y_i}) + δ_{y_i}          (stretch s, class shifts δ [C, D])

— Spread (s > 0), Attract and PED (rigid shifts, s = 0), the collapse interpolation (s = −t) — or, for
ConfMix, by a per-sample interpolation whose moments are still closed-form. So the frame's class means are
μ + δ and its within-class scatter is (1 + s)² S_W, and the metric gets statistics that answer those (and S_B,
S_T, XᵀX) in O(C·D²) instead of an O(N·D²) pass over the features: ``ClassStats.moved`` for affine frames,
:class:`FrameStats` for the ConfMix interpolation.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

import numpy as np

from transvis.metrics import ClassStats
from transvis.metrics._logme_affine import within_eigh
from transvis.metrics._stats import LabelsSharedWithBase


class ModelContext:
    """One model's validated features, labels and the shared heavy statistics of its unperturbed features.

    ``stats`` is a :class:`ClassStats` (read-only float64 features) whose shared statistics every frame
    derives from; lazily: ``within_gram`` Σ r rᵀ = N·S_W over the within-class residuals r_i = x_i − μ_{y_i},
    ``within_eigh`` its eigendecomposition (for the LogME fast path), fitted projections and display maps.
    """

    def __init__(self, name: str, features, labels, *, backend, stats: ClassStats | None = None):
        self.name = name
        shared = (stats is not None and type(stats) is ClassStats and stats.backend.name == backend.name
                  and stats.unit_scale == 1.0 and stats.matches(features, labels))
        self.stats = stats if shared else ClassStats(features, labels, backend=backend)
        self._store: dict[Any, Any] = {}

    @property
    def n_samples(self) -> int:
        return self.stats.n_samples

    @property
    def n_dims(self) -> int:
        return self.stats.n_dims

    @property
    def labels(self) -> np.ndarray:
        return self.stats.labels

    def residuals(self) -> np.ndarray:
        """x_i − μ_{y_i} [N, D] (a new array; not kept, it is as cheap to rebuild as to store)."""
        return self.stats.features - self.stats.class_means[self.stats.labels]

    @property
    def within_scatter(self) -> np.ndarray:
        """S_W [D, D] of the unperturbed features (the shared ``ClassStats.within_scatter``)."""
        return self.stats.within_scatter

    @cached_property
    def within_gram(self) -> np.ndarray:
        """Σ_i r_i r_iᵀ = N·S_W [D, D]."""
        return self.n_samples * self.stats.within_scatter

    @cached_property
    def within_eigh(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues (ascending, clipped at 0) [D] and eigenvectors [D, D] of Σ r rᵀ."""
        backend = self.stats.backend
        if backend.name == "torch" and str(getattr(backend, "device", "cpu")).startswith("cuda"):
            values, vectors = backend.eigh(self.within_gram)
        else:
            # SciPy's MRRR driver ``evr``, kept because the closed-form frames (and the persisted trajectories)
            # were computed with its eigenvectors; it is *not* the fastest: at D = 1,280 on one core numpy's
            # ``syevd`` (the backend's ``eigh``) measured 0.38-0.81 s against 0.47-0.95 s for ``evr`` (loaded
            # 2-core machine, best of 3-4). Switching changes the LogME fast path's scores at round-off level.
            # Memoised on the statistics, where LogME of moved statistics (FSP, PED) finds it too.
            return within_eigh(self.stats)
        return np.maximum(values, 0.0), vectors

    def cached(self, key, build: Callable[[], Any]):
        """A per-context memo (fitted projections, display parts, method preparations)."""
        if key not in self._store:
            self._store[key] = build()
        return self._store[key]


@dataclass(frozen=True)
class Display:
    """A fixed linear 2-D view of one space: ``x ↦ (x − offset) @ matrix + bias`` ([D] → [2])."""

    offset: np.ndarray
    matrix: np.ndarray
    bias: np.ndarray

    def __call__(self, x) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.offset) @ self.matrix + self.bias


def display_parts(context: ModelContext, display: Display, key) -> tuple[np.ndarray, np.ndarray]:
    """(positions [N, 2] of the unperturbed samples, class-mean positions [C, 2]) under ``display``, memoised."""
    def build():
        return display(context.stats.features), display(context.stats.class_means)
    return context.cached(("display", key), build)


class FrameStats(LabelsSharedWithBase, ClassStats):
    """:class:`ClassStats` of a frame's features whose class means and S_W are known in closed form.

    ``class_means`` [C, D] and ``within_scatter`` ([D, D] or a zero-argument function returning it) replace
    the O(N·D²) passes; S_B follows from them as in ClassStats, ``S_T = S_W + S_B`` (and XᵀX from S_T).
    The one-hot indicator and class indices are shared with the unperturbed statistics (same labels).
    """

    def __init__(self, features, labels, *, backend, base: ClassStats, class_means=None, within_scatter=None):
        super().__init__(features, labels, backend=backend)
        self._base = base
        self._known_means = class_means
        self._known_within = within_scatter

    @cached_property
    def class_means(self) -> np.ndarray:
        if self._known_means is None:
            return ClassStats.class_means.func(self)
        return np.asarray(self._known_means, dtype=np.float64)

    @cached_property
    def within_scatter(self) -> np.ndarray:
        if self._known_within is None:
            return ClassStats.within_scatter.func(self)
        value = self._known_within() if callable(self._known_within) else self._known_within
        return np.asarray(value, dtype=np.float64)

    @cached_property
    def total_scatter(self) -> np.ndarray:
        if self._known_within is None:
            return ClassStats.total_scatter.func(self)
        return self.within_scatter + self.between_scatter


# -- frame specifications ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AffineFrame:
    """Features ``x + stretch·(x − μ_y) + amount·direction_y`` of ``context`` (see the module docstring).

    stretch : s ≥ −1 (within-class offsets scale by 1 + s); direction : [C, D] class-mean displacement (None:
    no move) scaled by ``amount`` — frames along one direction share it, so its projections are computed once.
    """

    context: ModelContext
    stretch: float = 0.0
    direction: np.ndarray | None = None
    amount: float = 1.0

    @property
    def is_identity(self) -> bool:
        return self.stretch == 0.0 and self.shift is None

    @property
    def scale(self) -> float:
        return 1.0 + self.stretch

    @property
    def shift(self) -> np.ndarray | None:
        """Class-mean displacements [C, D] (None when there are none)."""
        if self.direction is None or self.amount == 0.0:
            return None
        return self.direction if self.amount == 1.0 else self.amount * self.direction

    def class_means(self) -> np.ndarray:
        base = self.context.stats.class_means
        shift = self.shift
        return base if shift is None else base + shift

    def features(self) -> np.ndarray:
        """The frame's features [N, D] (a new array; the unperturbed array itself for the identity)."""
        stats = self.context.stats
        x = stats.features
        if self.stretch != 0.0:
            x = x + self.stretch * (x - stats.class_means[stats.labels])  # the order of fsp.spread_classes
        shift = self.shift
        if shift is not None:
            x = x + shift[stats.labels]
        return x

    def make_stats(self) -> ClassStats:
        stats = self.context.stats
        if self.is_identity:
            return stats
        # ClassStats.moved: class means μ', S_W' = s²·S_W, S_B', S_T', XᵀX' in closed form; the features (built
        # exactly as fsp/ped build them) only when a metric needs the rows.
        return stats.moved(self.class_means(), residual_scale=self.scale, features=self.features)

    def display(self, display: Display, key) -> tuple[np.ndarray, np.ndarray]:
        """(positions [N, 2], centres [C, 2]) in ``display``, in closed form from the unperturbed ones."""
        positions, base_centres = display_parts(self.context, display, key)
        if self.is_identity:
            return positions, base_centres
        labels = self.context.labels
        shift = self.shift
        centres = base_centres if shift is None else base_centres + shift @ display.matrix
        return centres[labels] + self.scale * (positions - base_centres[labels]), centres


@dataclass(frozen=True)
class ExplicitFrame:
    """A frame given by its features [N, D] in ``context``'s space — an array, or a zero-argument function
    building it when the frame is scored (so a trajectory never holds every frame's features at once) —
    with optional closed-form class means / S_W and precomputed display positions."""

    context: ModelContext
    features_: Any
    class_means_: np.ndarray | None = None
    within_scatter_: Any = None
    positions_: np.ndarray | None = None
    centres_: np.ndarray | None = None

    is_identity = False

    def features(self) -> np.ndarray:
        return self.features_() if callable(self.features_) else self.features_

    def class_means(self, features=None) -> np.ndarray:
        if self.class_means_ is not None:
            return self.class_means_
        stats = self.context.stats
        x = self.features() if features is None else features
        return np.asarray(stats.indicator @ np.asarray(x, dtype=np.float64)) / stats.counts[:, None]

    def make_stats(self) -> ClassStats:
        stats = self.context.stats
        return FrameStats(self.features(), stats.labels, backend=stats.backend, base=stats,
                          class_means=self.class_means_, within_scatter=self.within_scatter_)

    def display(self, display: Display, key) -> tuple[np.ndarray, np.ndarray]:
        if self.positions_ is not None and self.centres_ is not None:
            return self.positions_, self.centres_
        x = self.features()
        return display(x), display(self.class_means(x))


# -- the context cache -------------------------------------------------------------------------------------
_CONTEXTS: OrderedDict = OrderedDict()
CONTEXT_CACHE_SIZE = 16


def get_context(name: str, features, labels, *, backend, cache_key=None, stats_cache=None) -> ModelContext:
    """A :class:`ModelContext`, reused from the cache when ``cache_key`` (the caller's small id of the
    features) was seen with this model and backend. ``stats_cache`` (``{model: ClassStats}``, the caller's): a
    new context works on the statistics held there for ``name`` when they are of these arrays, and leaves its
    own there otherwise (the same decompositions then serve the caller's rankings)."""
    key = None if cache_key is None else (cache_key, name, backend.name, getattr(backend, "device", "cpu"))
    context = _CONTEXTS.get(key) if key is not None else None
    if context is None:
        context = ModelContext(name, features, labels, backend=backend,
                               stats=stats_cache.get(name) if stats_cache is not None else None)
        if key is not None:
            _CONTEXTS[key] = context
            while len(_CONTEXTS) > CONTEXT_CACHE_SIZE:
                _CONTEXTS.popitem(last=False)
    else:
        _CONTEXTS.move_to_end(key)
    if stats_cache is not None and stats_cache.get(name) is not context.stats:
        current = stats_cache.get(name)
        if current is None or not current.matches(context.stats.features, context.stats.labels):
            stats_cache[name] = context.stats
    return context


def clear_contexts() -> None:
    _CONTEXTS.clear()
