"""2-D maps of a feature space, scikit-learn style (``fit`` / ``transform``, learned state ends in ``_``).

    from transvis.projection import PCAProjection, FisherProjection, UMAPOverview
    xy = PCAProjection(2).fit(X).transform(X)                 # exact PCA, deterministic signs
    xy = FisherProjection(2).fit(X, y).transform(X)           # SFDA's Fisher plane (shrinkage fixed at fit)
    xy = umap_overview(X, cache_key="store-key").embedding_   # UMAP overview, fitted once and cached

The linear projections are what the dynamics engine draws trajectories in: fitted once on the unperturbed
features and reused for every frame, so nothing jumps between frames. UMAP is only a static overview.
"""

from .fisher import FisherProjection
from .pca import PCAProjection
from .umap_overview import UMAPOverview, umap_overview

__all__ = ["FisherProjection", "PCAProjection", "UMAPOverview", "umap_overview"]
