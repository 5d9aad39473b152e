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
        global _FITTED_IN_PROCESS
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
        _FITTED_IN_PROCESS = True  # numba has compiled umap's code in this process (see umap_seconds)
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


# --- in the background: a fit with a progress bar, for a front end that must not wait ---------------------
# Seconds on the 2-core reference machine (bench/umap_overview.py, the demo's 3,000 samples, 24–2,048 dims):
# ``import umap`` 4–12 s once per process, numba's compilation ~28 s on the first fit, then ~10 s per fit of
# 3,000 samples (500 epochs below 10,000 samples, umap-learn's default; 200 above).
UMAP_IMPORT_S = 8.0
UMAP_COMPILE_S = 28.0
UMAP_FIT_S_PER_SAMPLE = 10.0 / 3000
_FITTED_IN_PROCESS = False  # numba compiled umap's functions in this process (the first fit's extra cost)


def umap_seconds(n_samples: int) -> float:
    """Rough seconds a :class:`UMAPOverview` fit of ``n_samples`` takes in this process: the import and numba's
    compilation when not done yet, then a cost linear in the samples (fewer epochs above 10,000 samples)."""
    import sys

    epochs = 1.0 if n_samples <= 10_000 else 0.4
    return ((0.0 if "umap" in sys.modules else UMAP_IMPORT_S) + (0.0 if _FITTED_IN_PROCESS else UMAP_COMPILE_S)
            + UMAP_FIT_S_PER_SAMPLE * n_samples * epochs)


def umap_overview_job(features, *, cache_key=None, name: str = "UMAP", tag=None, steps: int = 100,
                      tick_s: float = 0.25, estimate: float | None = None, **params):
    """A (not yet started) :class:`transvis.jobs.Job` whose result is the map [N, 2] of
    ``umap_overview(features, cache_key=cache_key, **params)``.

    A fit reports no progress of its own, so the job's ``steps`` units are shares of the estimated time
    (:func:`umap_seconds`, or ``estimate`` seconds): a ticker advances them as time passes (never past
    ``steps - 1`` before the fit returns), which gives the bar and the ETA; the unit label says the stage
    ("import umap", "fit"). A cancel is honoured after the import or after the fit (a running fit cannot be
    interrupted); nothing of a cancelled job is kept.
    """
    import sys
    import threading
    import time

    from transvis.jobs import Job, JobCancelled

    x = as_features(features)
    seconds = max(float(estimate if estimate is not None else umap_seconds(x.shape[0])), 1e-3)

    def work(progress, cancelled):
        stage, stop, start = ["fit" if "umap" in sys.modules else "import umap"], threading.Event(), time.monotonic()

        def tick():
            done = 0
            while not stop.wait(tick_s):
                done = max(done, min(steps - 1, int(steps * (time.monotonic() - start) / seconds)))
                progress(done, stage[0])

        ticker = threading.Thread(target=tick, name=f"transvis-job:{name}:ticker", daemon=True)
        ticker.start()
        try:
            if stage[0] == "import umap":
                import umap  # noqa: F401 - the slow import, as its own stage
                if cancelled():
                    raise JobCancelled
                stage[0] = "fit"
            fitted = umap_overview(x, cache_key=cache_key, **params)
        finally:
            stop.set()
            ticker.join()
        if cancelled():
            raise JobCancelled
        progress(steps, "fit")
        return fitted.embedding_

    return Job(work, steps, name=name, tag=tag)
