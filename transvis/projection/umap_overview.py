"""A UMAP overview map: fitted once per feature set and cached, never refitted per frame.

``import umap`` costs ~12 s and the first fit compiles numba (~45–60 s), so umap-learn is imported only
inside :meth:`UMAPOverview.fit`, and :func:`umap_overview` keeps fitted maps under a small explicit key.
UMAP is non-linear and stochastic: it draws the static overview of a dataset, not trajectory frames (those
use the linear :class:`PCAProjection` / :class:`FisherProjection`, fixed for the whole trajectory).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from transvis.metrics._validation import as_features

from ._linear import check_components

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 8


class UMAPOverview:
    """UMAP embedding of features [N, D] to ``n_components`` dimensions (McInnes et al., 2018; umap-learn).

    Deterministic for a given ``random_state`` (umap-learn then runs single-threaded). Parameters are
    umap-learn's; extra keyword arguments go to ``umap.UMAP``.

    Attributes (after ``fit``): ``embedding_`` [N, k] (the map of the fitted samples), ``reducer_`` (the
    fitted ``umap.UMAP``), ``n_features_in_``.
    """

    def __init__(self, n_components: int = 2, *, n_neighbors: int = 15, min_dist: float = 0.1,
                 metric: str = "euclidean", random_state: int | None = 0, **umap_kwargs):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.random_state = random_state
        self.umap_kwargs = umap_kwargs

    def fit(self, X, y=None) -> "UMAPOverview":
        """Fit on features X [N, D] (``y`` ignored: the overview is unsupervised)."""
        k = check_components(self.n_components)
        x = as_features(X)
        if x.shape[0] <= 2:
            raise ValueError(f"UMAP needs at least 3 samples; got {x.shape[0]}.")
        try:
            import umap  # slow import (~12 s): only here, never at module import
        except ImportError as err:  # pragma: no cover - umap-learn is a pinned app dependency
            raise ValueError("UMAPOverview needs umap-learn; install the app extras (pip install umap-learn).") from err
        kwargs = dict(self.umap_kwargs)
        if self.random_state is not None:
            kwargs.setdefault("n_jobs", 1)  # what umap-learn enforces with a seed (it warns otherwise)
        reducer = umap.UMAP(n_components=k, n_neighbors=min(int(self.n_neighbors), x.shape[0] - 1),
                            min_dist=self.min_dist, metric=self.metric, random_state=self.random_state, **kwargs)
        self.embedding_ = np.asarray(reducer.fit_transform(x), dtype=np.float64)
        self.reducer_ = reducer
        self.n_features_in_ = x.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        """Place new samples X [M, D] on the fitted map (slow; for a few added points, never per frame)."""
        if not hasattr(self, "reducer_"):
            raise ValueError("this UMAPOverview is not fitted yet; call fit(X) first.")
        x = as_features(X)
        if x.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} columns (as fitted); got {x.shape[1]}.")
        return np.asarray(self.reducer_.transform(x), dtype=np.float64)

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X, y).embedding_


def umap_overview(features, *, cache_key=None, **params) -> UMAPOverview:
    """A fitted :class:`UMAPOverview` of features [N, D], cached under ``(cache_key, params)``.

    ``cache_key``: a small hashable id of the features (the app passes its feature-store key); None fits
    afresh without caching. The cache keeps the last 8 maps.
    """
    key = None
    if cache_key is not None:
        key = (cache_key, tuple(sorted(params.items())))
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    fitted = UMAPOverview(**params).fit(features)
    if key is not None:
        _CACHE[key] = fitted
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return fitted
