"""NCTI: Neural Collapse inspired Transferability Index (Wang, Luo, Zheng, Huang, Baktashmotlagh, ICCV 2023).

Three neural-collapse proxies of a linear-discriminant fit on PCA-64 features Z:

    S_seli = ‖Z_LDA − mean‖_*                  nuclear norm of the centred LDA projection [N, C−1] (NC2-like)
    S_ncc  = (1/N) Σ_i p(y_i | z_i)            mean true-class LDA posterior (NC4-like)
    S_vc   = log Σ_c ‖P_c‖_*                   P_c = posterior rows of class c [n_c, C] (NC1-like, lower = better)

The published NCTI is *zoo-relative*: each term is min-max normalised over the models being ranked, and
NCTI = n(S_seli) + n(S_ncc) − n(S_vc). That combination is the registry entry's ``pool_combine``.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.spatial.distance
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from ._contract import MetricResult, MetricSpec, register
from ._degeneracy import FIX_MORE_SAMPLES, REL_TOL, fit_dims, fmt
from ._stats import metric_stats

SHRINKAGE_FLOOR = 1e-10  # official max(exp(−Σ var), 1e-10); the floor switches to the svd solver


def exact_pca(stats, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact PCA of the features: scores [N, k] and explained variances [k] (unbiased, like scikit-learn).

    Uses the top eigenpairs of S_T (``ClassStats.top_eigh``); k = min(n_components, N, D, numerical rank of S_T)
    (components of zero variance are dropped; at least one is kept). Component signs follow
    scikit-learn's ``svd_flip(u_based_decision=False)`` (largest-|·| loading positive), so the scores equal
    ``PCA(n_components, svd_solver='full').fit_transform(X)`` up to round-off.
    """
    # The top eigenpairs of S_T: shared with the other metrics when computed, else a partial decomposition.
    values, vectors = stats.top_eigh(min(int(n_components), stats.n_samples, stats.n_dims))
    # Directions of (numerically) zero variance are dropped: when N ≤ k their PCA "scores" are round-off,
    # which an LDA would standardise into a random, row-order dependent extra feature. (Counting among the
    # top values only is enough: k never exceeds their number.)
    rank = int(np.sum(values > values[0] * max(stats.n_samples, stats.n_dims) * np.finfo(float).eps))
    k = max(1, min(int(n_components), stats.n_samples, stats.n_dims, rank))
    basis = vectors[:, :k].copy()
    pivot = np.abs(basis).argmax(axis=0)
    basis *= np.sign(basis[pivot, np.arange(k)])
    scores = stats.centered_dot(basis)
    explained = np.clip(values[:k], 0.0, None) * stats.n_samples / (stats.n_samples - 1)
    return scores, explained


def _nuclear_norm(matrix: np.ndarray) -> float:
    if matrix.size == 0:
        return 0.0
    return float(np.linalg.svd(matrix, compute_uv=False).sum())


def _fit_lda(reduced: np.ndarray, labels: np.ndarray, shrinkage: float | None):
    """Fit the official LDA. An eigen solve that fails on a numerically singular covariance falls back
    to the svd solver (the official code would raise). Returns (lda or None, solver used); None when no
    LDA can be fitted (exactly zero within-class scatter)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Variables are collinear"
        if shrinkage is not None:
            try:
                return LinearDiscriminantAnalysis(solver="eigen", shrinkage=shrinkage).fit(reduced, labels), "eigen"
            except np.linalg.LinAlgError:
                pass
        try:
            return LinearDiscriminantAnalysis(solver="svd").fit(reduced, labels), "svd"
        except (IndexError, np.linalg.LinAlgError):  # rank-0 within-class scatter
            return None, None


def _degenerate_lda(stats, reduced: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Limits of the LDA when it cannot be fitted (documented fallbacks, not official behaviour).

    No variance at all: posteriors are the class priors (nothing is known) and the projection is 0.
    Zero within-class but non-zero between-class scatter: the LDA's limit, a hard nearest-class-mean
    assignment, with the centred scores as the projection.
    """
    if not np.any(reduced):
        posteriors = np.tile(stats.priors, (stats.n_samples, 1))
        return np.zeros((stats.n_samples, max(1, min(stats.n_classes - 1, reduced.shape[1])))), posteriors, \
            "none (features have no variance; posteriors = priors)"
    means = np.asarray(stats.indicator @ reduced) / stats.counts[:, None]
    nearest = scipy.spatial.distance.cdist(reduced, means, "sqeuclidean").argmin(axis=1)
    posteriors = np.eye(stats.n_classes)[nearest]
    return reduced - reduced.mean(axis=0), posteriors, "none (zero within-class scatter; nearest class mean)"


def ncti(features, labels, *, stats=None, pca_dims: int = 64) -> MetricResult:
    """NCTI components of features [N, D] for labels [N], plus a stand-alone per-model score.

    Components match BUserName/NCTI ``NCTI_Score(X, y)`` (returns seli, ncc, vc):
    1. ``PCA(n_components=64)``. The official call uses scikit-learn's default solver, which is an
       unseeded randomised SVD for large inputs; here the PCA is **exact** (the shared eigendecomposition
       of S_T), which equals the official one wherever the official one is exact (all reference cases).
       k = min(pca_dims, N, D, rank): the official code needs min(N, D) ≥ 64, and components of zero
       variance (N ≤ 64, constant data) are dropped rather than fed to the LDA as round-off.
    2. τ = max(exp(−Σ_{i<32} explained_variance_i), 1e-10). τ at the floor → ``LinearDiscriminantAnalysis
       (solver='svd')``; otherwise ``solver='eigen', shrinkage=τ`` (scale dependent: raw CNN features
       usually hit the floor). If the eigen solve fails on a singular covariance, the svd solver is used;
       if no LDA can be fitted at all (features without variance, or exactly zero within-class scatter)
       the LDA's limit is used (priors, or nearest-class-mean one-hot posteriors) and named in
       ``lda_solver``.
    3. seli, ncc, vc as in the module docstring, from scikit-learn's LDA ``fit_transform``/``predict_proba``.

    Score. The real NCTI is zoo-relative (see ``ncti_pool_scores``, the spec's ``pool_combine``). The
    per-model ``score`` is a documented stand-alone proxy with the same signs, each term scaled to [0, 1]
    per model instead of across the zoo:

        score = seli_balance + ncc − vc_spread
        seli_balance = ‖Z̄‖_* / (√r ‖Z̄‖_F)                  r = LDA dimensions; 1 = class structure spread
                                                           evenly over all discriminant directions
        vc_spread = mean_c (‖P_c‖_*/‖P_c‖_F − 1)/(√r_c − 1)  r_c = min(n_c, C); 0 = each class's posterior
                                                           rows are collinear (collapsed)

    It ranks models without a pool, but it is not the published NCTI.

    Scale: given τ, the LDA (and so every component) is scale invariant; only τ sees the absolute scale.
    Features of extreme magnitude (outside [2^-64, 2^64]) are divided by a power of two s first, with τ taken
    from the caller's explained variances (s² times the rescaled ones; ``explained_variance`` in the trace is
    in the rescaled units): the same maths without overflow (the official pipeline fails there).

    Degenerate (``compute`` flags it): the in-sample LDA posteriors all 1 (ncc ≥ 1 − 1e-6: ncc and vc then no
    longer vary between models), no LDA possible (features without variance), and (contract-level)
    N − C ≤ k with k the PCA dimension.

    trace: ``seli``, ``ncc``, ``vc`` (official components), ``lda_shrinkage`` (τ, None when the official
    rule picks the svd solver), ``lda_solver`` (solver actually used), ``explained_variance`` [k],
    ``pca_dims``, ``seli_balance``, ``vc_spread``, ``per_class_ncc`` [C], ``per_class_nuclear_norm`` [C],
    ``lda_projection`` [N, min(2, C−1)] (first LDA axes, for plotting).
    """
    stats = metric_stats(features, labels, stats)
    reduced, explained = exact_pca(stats, pca_dims)
    top_variance = float(explained[:32].sum())
    if stats.unit_scale != 1.0 and top_variance > 0.0:  # the caller's explained variances (rescaled features)
        with np.errstate(over="ignore", under="ignore"):
            top_variance = float(top_variance * np.float64(stats.unit_scale) ** 2)
    tau = max(float(np.exp(-top_variance)), SHRINKAGE_FLOOR)
    shrinkage = None if tau == SHRINKAGE_FLOOR else tau
    lda, solver = (None, None) if not np.any(reduced) else _fit_lda(reduced, stats.labels, shrinkage)
    if lda is None:
        projected, posteriors, solver = _degenerate_lda(stats, reduced)
    else:
        projected = lda.transform(reduced)
        posteriors = lda.predict_proba(reduced)
    projected = projected - projected.mean(axis=0, keepdims=True)
    seli = _nuclear_norm(projected)
    true_class = posteriors[np.arange(stats.n_samples), stats.labels]
    ncc = float(true_class.mean())
    per_class_nuc = np.array([_nuclear_norm(posteriors[idx]) for idx in stats.class_indices])
    vc = float(np.log(per_class_nuc.sum()))

    frob = np.linalg.norm(projected)
    dims = projected.shape[1]
    seli_balance = seli / (np.sqrt(dims) * frob) if frob > 0 else 0.0
    spreads = []
    for idx, nuc in zip(stats.class_indices, per_class_nuc):
        r = min(len(idx), stats.n_classes)
        f = np.linalg.norm(posteriors[idx])
        spreads.append((nuc / f - 1.0) / (np.sqrt(r) - 1.0) if r > 1 and f > 0 else 0.0)
    vc_spread = float(np.clip(np.mean(spreads), 0.0, 1.0))
    score = float(seli_balance + ncc - vc_spread)
    return MetricResult(
        "ncti",
        score,
        {
            "seli": seli,
            "ncc": ncc,
            "vc": vc,
            "lda_shrinkage": shrinkage,
            "lda_solver": solver,
            "explained_variance": explained,
            "pca_dims": int(reduced.shape[1]),
            "seli_balance": float(seli_balance),
            "vc_spread": vc_spread,
            "per_class_ncc": np.bincount(stats.labels, weights=true_class, minlength=stats.n_classes) / stats.counts,
            "per_class_nuclear_norm": per_class_nuc,
            "lda_projection": projected[:, :2].copy(),
        },
        params={"pca_dims": pca_dims},
    )


def _min_max(values: np.ndarray) -> np.ndarray:
    span = values.max() - values.min()
    if not np.isfinite(span) or span == 0:
        return np.zeros_like(values)
    return (values - values.min()) / span


def ncti_pool_scores(results: dict) -> dict:
    """The published, zoo-relative NCTI: ``{model: MetricResult} -> {model: float}``.

    Each component is min-max normalised over the models given, then NCTI = n(seli) + n(ncc) − n(vc),
    as in the official ``evaluate_metric_group1_cpu.py``. A model's value therefore **changes when the
    pool changes** (adding or removing any model can move every score and even reorder the others).
    A component that is equal for every model (including a pool of one) normalises to 0 instead of the
    official 0/0 = NaN.
    """
    if not results:
        return {}
    names = list(results)
    parts = {key: np.array([float(results[m].trace[key]) for m in names]) for key in ("seli", "ncc", "vc")}
    combined = _min_max(parts["seli"]) + _min_max(parts["ncc"]) - _min_max(parts["vc"])
    return {m: float(v) for m, v in zip(names, combined)}


def ncti_degeneracy(result: MetricResult, stats) -> str | None:
    """No LDA possible (no variance), or the in-sample LDA posteriors all 1 (ncc ≥ 1 − 1e-6)."""
    solver = str(result.trace.get("lda_solver") or "")
    if solver.startswith("none (features have no variance"):
        return (f"NCTI is {fmt(result.score)}: the features have no variance, so no LDA can be fitted and the "
                "score is the documented no-information fallback. Check the extraction layer.")
    ncc = float(result.trace.get("ncc", 0.0))
    if ncc >= 1.0 - REL_TOL:
        n, c, dims = stats.n_samples, stats.n_classes, fit_dims(result, stats)
        why = (f"N − C ≤ D ({n} samples, {dims} PCA dims) makes every labelling separable in-sample. {FIX_MORE_SAMPLES}"
               if n - c <= dims else "the classes are separable with certainty in-sample, so these terms cannot "
               "order such models. Score a harder or larger target set.")
        return (f"NCTI is {fmt(result.score)} with its posterior terms saturated (ncc = {fmt(ncc)}: every in-sample "
                f"LDA posterior is one-hot, so ncc and vc no longer vary between models): {why}")
    return None


register(MetricSpec(
    name="ncti", fn=ncti,
    display_name="NCTI",
    pool_note="it min-max normalises its three components over the models ranked together",
    summary="Neural-collapse index from an LDA on PCA-64 features: spread + NCC accuracy − posterior "
            "variability; the published score is min-max combined across the model pool.",
    citation="Wang, Luo, Zheng, Huang, Baktashmotlagh, How Far Pre-trained Models Are from Neural Collapse "
             "on the Target Dataset Informs their Transferability, ICCV 2023",
    pool_combine=ncti_pool_scores,
    degeneracy=ncti_degeneracy,
    fits_in_sample=True,
))
