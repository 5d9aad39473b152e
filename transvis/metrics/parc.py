"""PARC: Pairwise Annotation Representation Comparison (Bolya, Mittapalli, Hoffman, NeurIPS 2021).

Representational similarity analysis between the features and the labels:

    F = StandardScaler(PCA_32(X))                            [N, 32]
    RDM_f = 1 − corrcoef(rows of F)                          [N, N]
    RDM_y = 1 − corrcoef(one-hot rows of y)                  [N, N]
    PARC = 100 · Spearman(upper-tri(RDM_f), upper-tri(RDM_y))

It is O(N²) in time and memory, so large sets are subsampled (stratified, seeded).
"""

from __future__ import annotations

import numpy as np
import scipy.stats
from sklearn.decomposition import PCA

from ._contract import MetricResult, MetricSpec, register
from ._stats import metric_stats

PCA_RANDOM_STATE = 1919  # official feature_reduce()


def stratified_subsample(labels: np.ndarray, max_samples: int, seed: int) -> np.ndarray:
    """Sorted row indices of a class-stratified random subsample of at most ``max_samples`` rows.

    Each class keeps about max_samples·n_c/N rows (at least one, never more than it has), rounded by
    largest remainders so the total is exactly ``max_samples``. Deterministic for a given ``seed``.
    """
    n = labels.size
    if n <= max_samples:
        return np.arange(n)
    n_classes = int(labels.max()) + 1
    if max_samples < n_classes:
        raise ValueError(
            f"max_samples={max_samples} cannot keep one sample of each of the {n_classes} classes; "
            f"use max_samples >= {n_classes}."
        )
    counts = np.bincount(labels, minlength=n_classes)
    exact = max_samples * counts / n
    take = np.minimum(np.maximum(np.floor(exact).astype(int), 1), counts)
    remainder = exact - take
    # Settle the total to exactly max_samples: add to the largest remainders, remove from the smallest.
    while take.sum() < max_samples:
        open_ = take < counts
        c = int(np.argmax(np.where(open_, remainder, -np.inf)))
        take[c] += 1
        remainder[c] -= 1
    while take.sum() > max_samples:
        c = int(np.argmin(np.where(take > 1, remainder, np.inf)))
        take[c] -= 1
        remainder[c] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=int(take[c]), replace=False) for c in range(n_classes)]
    return np.sort(np.concatenate(chosen))


def _spearman_with_binary(values: np.ndarray, indicator: np.ndarray) -> float:
    """Spearman correlation of ``values`` with a two-valued variable (= Pearson of their average ranks).

    A two-valued variable's average ranks are an affine function of it, so only ``values`` need ranking.
    """
    ranks = scipy.stats.rankdata(values)
    ranks -= ranks.mean()
    ind = indicator.astype(float)
    ind -= ind.mean()
    denom = np.sqrt((ranks @ ranks) * (ind @ ind))
    return float(ranks @ ind / denom) if denom > 0 else 0.0


def _official_spearman(scaled: np.ndarray, y: np.ndarray, n_classes: int) -> float:
    """The official computation verbatim in effect: both RDMs from ``np.corrcoef``, ``scipy.stats.spearmanr``.

    ``1 − corrcoef(one-hot)`` is not exactly two-valued in floating point (0 vs 2.2e-16 within classes,
    two roundings of C/(C−1) between them, depending on the class pair and the BLAS kernel), and
    ``spearmanr`` ranks that noise, which moves the score by up to ~10% on the reference cases.
    """
    rdm_f = 1.0 - np.corrcoef(scaled)
    rdm_y = 1.0 - np.corrcoef(np.eye(n_classes)[y])
    upper = np.triu_indices(len(y), 1)
    return float(scipy.stats.spearmanr(rdm_f[upper], rdm_y[upper])[0])


def _standardised_pca(x: np.ndarray, pca_dims: int, variant: str) -> np.ndarray:
    """``StandardScaler(PCA_k(x))`` [n, ≤ k] with the official PCA settings, k = min(pca_dims, n, D)."""
    n = x.shape[0]
    k = min(pca_dims, n, x.shape[1])
    if np.any(x.std(axis=0) > 0):
        pca = PCA(n_components=k, svd_solver="randomized", random_state=PCA_RANDOM_STATE, iterated_power=1)
        reduced = pca.fit_transform(x)
        if variant == "exact":
            # Drop components of round-off variance (k ≥ rank, e.g. N ≤ 32): StandardScaler would blow
            # their noise up to unit variance, a random extra dimension.
            var = pca.explained_variance_
            reduced = reduced[:, var > var[0] * max(x.shape) * np.finfo(float).eps]
    else:
        reduced = np.zeros((n, k))
    sd = reduced.std(axis=0)
    return (reduced - reduced.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def _feature_rdm(scaled: np.ndarray) -> np.ndarray:
    """1 − corrcoef of the rows [n, n]; rows of zero spread at correlation 0 (dissimilarity 1).

    Built in place (one [n, n] array) and snapped to a 1e-12 grid so that equal dissimilarities tie in
    the ranking instead of being ordered by round-off (e.g. k ≤ 2, where every correlation is ±1).
    """
    centred = scaled - scaled.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    unit = centred / np.where(norms > 0, norms, 1.0)[:, None]
    rdm = unit @ unit.T
    np.clip(rdm, -1.0, 1.0, out=rdm)
    np.subtract(1.0, rdm, out=rdm)
    np.round(rdm, 12, out=rdm)
    rdm[norms == 0, :] = 1.0
    rdm[:, norms == 0] = 1.0
    return rdm


def _class_dissimilarity(rdm: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean RDM entry between each pair of classes [C, C] (diagonal: within; NaN for a one-sample class)."""
    onehot = np.zeros((y.size, n_classes))
    onehot[np.arange(y.size), y] = 1.0
    block_sums = onehot.T @ (rdm @ onehot)
    sizes = onehot.sum(axis=0)
    pair_counts = np.outer(sizes, sizes) - np.diag(sizes)  # the RDM's zero diagonal is not a pair
    return np.divide(block_sums, pair_counts, out=np.full_like(block_sums, np.nan), where=pair_counts > 0)


VARIANTS = ("exact", "official")


def parc(features, labels, *, stats=None, max_samples: int = 5000, seed: int = 0,
         pca_dims: int = 32, variant: str = "exact") -> MetricResult:
    """PARC of features [N, D] for labels [N] (Bolya et al., NeurIPS 2021), in [−100, 100].

    Matches SFDA-repo ``PARC_Score(X, y)`` (``PARC(n_dims=32)``): ``PCA(n_components=32,
    svd_solver='randomized', random_state=1919, iterated_power=1)``, ``StandardScaler``, 1 − corrcoef
    RDMs of the rows, Spearman of the upper triangles × 100. Deviations:
    - Subsampling: when N > ``max_samples`` (default 5000) a class-stratified subsample drawn with
      ``seed`` is used (the official scripts intend a 15000-sample stratified cap, but their branch is
      buggy and scores all rows). For N ≤ max_samples the value is the official one.
    - k = min(pca_dims, N, D) (the official call needs D ≥ 32); in the exact variant, components whose
      variance is round-off (k ≥ rank of the centred data, e.g. N ≤ 32) are dropped before the
      StandardScaler, which would otherwise blow their noise up to unit variance.
    - Variant ``"exact"`` (default): the label RDM has exactly two values (0 within a class, C/(C−1)
      between classes), so the Spearman correlation is that of the feature-RDM ranks with the
      same/different-class indicator. Variant ``"official"`` recomputes both RDMs with ``np.corrcoef`` and
      calls ``spearmanr`` like the official code, whose label RDM carries floating-point noise that
      ``spearmanr`` ranks as if it were signal (a defect: the score moves by up to ~10% and depends on
      the BLAS build); use it only for side-by-side checks.
    - Feature-RDM entries are rounded to 12 decimals so that mathematically equal dissimilarities tie
      instead of being ranked by round-off (this makes the score independent of the row order).
    - Rows whose standardised PCA scores are all equal have no defined correlation; their RDM entries
      are set to 1 (correlation 0) instead of NaN. With no variance at all the score is 0.

    Scale invariant (PCA is linear and the features are standardised): features of extreme magnitude
    (outside [2^-64, 2^64]) are divided by a power of two first (same score, no overflow in the PCA).

    Degenerate (``compute`` flags it): a constant feature RDM (no variance, or every pair equally
    dissimilar), where the score is 0 by convention.

    trace: ``n_used`` (rows scored), ``subsampled`` (bool), ``sample_indices`` [n_used] (rows scored),
    ``pca_dims``, ``mean_within_dissimilarity`` / ``mean_between_dissimilarity`` (mean feature-RDM entry
    over same-class / different-class pairs), ``class_dissimilarity`` [C, C] (mean feature-RDM entry
    between each pair of classes; diagonal = within-class; NaN for a single-sample class's diagonal),
    ``constant_rdm`` (True when every feature dissimilarity is equal: the score is then 0 by convention).
    """
    if variant not in VARIANTS:
        raise ValueError(f"parc variant must be one of {VARIANTS}; got {variant!r}.")
    if int(max_samples) < 3:
        raise ValueError(f"max_samples must be at least 3; got {max_samples!r}.")
    stats = metric_stats(features, labels, stats)
    rows = stratified_subsample(stats.labels, int(max_samples), seed)
    y = stats.labels[rows]
    n = y.size
    scaled = _standardised_pca(stats.features[rows], int(pca_dims), variant)
    rdm = _feature_rdm(scaled)

    upper = np.triu(np.ones((n, n), dtype=bool), 1)  # row-major order, as np.triu_indices
    values = rdm[upper]
    different = (y[:, None] != y[None, :])[upper]
    constant = bool(np.ptp(values) == 0)
    if constant:
        score = 0.0
    elif variant == "official":
        score = 100.0 * _official_spearman(scaled, y, stats.n_classes)
    else:
        score = 100.0 * _spearman_with_binary(values, different)
    class_dissim = _class_dissimilarity(rdm, y, stats.n_classes)
    return MetricResult(
        "parc",
        float(score),
        {
            "n_used": int(n),
            "subsampled": bool(n < stats.n_samples),
            "sample_indices": rows,
            "pca_dims": int(scaled.shape[1]),
            "mean_within_dissimilarity": float(values[~different].mean()) if (~different).any() else float("nan"),
            "mean_between_dissimilarity": float(values[different].mean()) if different.any() else float("nan"),
            "class_dissimilarity": class_dissim,
            "constant_rdm": constant,
        },
        variant=variant,
        params={"max_samples": int(max_samples), "seed": seed, "pca_dims": pca_dims},
    )


def parc_degeneracy(result: MetricResult, stats) -> str | None:
    """A constant feature RDM: the Spearman correlation is undefined and the score 0 by convention."""
    if result.trace.get("constant_rdm"):
        return ("PARC is 0 by convention: every pair of samples is equally dissimilar in the features (no variance "
                "after the PCA), so the correlation with the labels is undefined. Check the extraction layer.")
    return None


register(MetricSpec(
    name="parc", fn=parc,
    display_name="PARC",
    opt_in="N² pairwise dissimilarities per model: minutes on real pools",
    summary="Spearman correlation (×100) between the feature and label dissimilarity matrices of the samples.",
    citation="Bolya, Mittapalli, Hoffman, Scalable Diverse Model Selection for Accessible Transfer Learning, "
             "NeurIPS 2021",
    scale_invariant=True,
    variants=VARIANTS, default_variant="exact",
    degeneracy=parc_degeneracy,
))
