"""Straightforward numpy transcriptions of the official metric implementations, for timing and cross-checks.

Each function follows the computation the official repository performs, step by step and with the same
library calls (``np.cov``, ``np.linalg.pinv``, ``slogdet``, ``scipy.linalg.eigh(Sb, Sw)``, scikit-learn
PCA / LDA / Ledoit-Wolf, PED's C×C×D force tensor), so that the time measured here is the time of the
official algorithm. They are rewritten in our own words (no printing, no numba, no torch), not copied.
The repositories and commits are listed in ``../shared/refvectors/README.md``; ``../shared/ALGORITHMS.md``
describes each algorithm.

Like the originals, :func:`sfda_score`, :func:`ped_score` and :func:`sa_score` may overwrite their input
array (SFDA's ConfMix writes into X): pass a copy.

This module is a benchmark baseline, not part of the library; ``transvis.metrics`` is the implementation.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

# ----------------------------------------------------------------------------------------------------
# LogME, fixed-point iteration (thuml/LogME ``LogME._fit_fixed_point``, the default ``_fit``)
# ----------------------------------------------------------------------------------------------------


def _truncated_svd(f: np.ndarray):
    """Thin SVD of F [N, D] (N > D) through the D×D Gram matrix, dropping singular values ≤ 1e-10."""
    _, s2, vh = np.linalg.svd(f.T @ f)
    s = np.sqrt(s2)
    u_sigma = f @ vh.T
    k = int((s > 1e-10).sum())
    s = s[:k].reshape(-1, 1)
    return u_sigma[:, :k] / s.reshape(1, -1), s, vh[:k]


def logme_fixed_point(features: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes of the one-vs-rest log evidence / N, as thuml's fixed-point LogME computes it."""
    f = features.astype(np.float64)
    n, d = f.shape
    if n > d:
        u, s, vh = _truncated_svd(f)
    else:
        u, s, vh = np.linalg.svd(f, full_matrices=False)
        s = s.reshape(-1, 1)
    sigma = s**2
    evidences = []
    for c in range(int(labels.max()) + 1):
        target = (labels == c).astype(np.float64).reshape(-1, 1)
        proj = u.T @ target
        proj2 = proj**2
        outside = (target**2).sum() - proj2.sum()
        alpha, beta = 1.0, 1.0
        for _ in range(11):
            t = alpha / beta
            gamma = (sigma / (sigma + t)).sum()
            m2 = (sigma * proj2 / ((t + sigma) ** 2)).sum()
            res2 = (proj2 / ((1 + sigma / t) ** 2)).sum() + outside
            alpha = gamma / (m2 + 1e-5)
            beta = (n - gamma) / (res2 + 1e-5)
            if abs(alpha / beta - t) / t <= 1e-3:
                break
        evidence = (
            d / 2.0 * np.log(alpha) + n / 2.0 * np.log(beta) - 0.5 * np.sum(np.log(alpha + beta * sigma))
            - beta / 2.0 * res2 - alpha / 2.0 * m2 - n / 2.0 * np.log(2 * np.pi)
        )
        evidences.append(evidence / n)
    return float(np.mean(evidences))


# ----------------------------------------------------------------------------------------------------
# TLlib closed forms (tllib/ranking/hscore.py, tllib/ranking/transrate.py)
# ----------------------------------------------------------------------------------------------------


def _class_mean_rows(f: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """g: every row replaced by its class mean."""
    g = np.zeros_like(f)
    for c in range(int(labels.max()) + 1):
        rows = labels == c
        g[rows] = f[rows].mean(axis=0)
    return g


def h_score(features: np.ndarray, labels: np.ndarray) -> float:
    """tr(pinv(cov(f), rcond=1e-15) · cov(g)) with unbiased covariances."""
    f = features
    cov_f = np.cov(f, rowvar=False)
    cov_g = np.cov(_class_mean_rows(f, labels), rowvar=False)
    return float(np.trace(np.linalg.pinv(cov_f, rcond=1e-15) @ cov_g))


def regularized_h_score(features: np.ndarray, labels: np.ndarray) -> float:
    """tr(pinv(Σ_α) · (1−α) cov(g)) with Ledoit-Wolf's shrunk covariance Σ_α of the centred features."""
    f = features.astype(np.float64)
    f = f - f.mean(axis=0, keepdims=True)
    lw = LedoitWolf(assume_centered=False).fit(f)
    cov_g = np.cov(_class_mean_rows(f, labels), rowvar=False)
    return float(np.trace(np.linalg.pinv(lw.covariance_, rcond=1e-15) @ ((1 - lw.shrinkage_) * cov_g)))


def _coding_rate(z: np.ndarray, eps: float) -> float:
    n, d = z.shape
    _, logdet = np.linalg.slogdet(np.eye(d) + (1.0 / (n * eps)) * (z.T @ z))
    return 0.5 * logdet


def transrate(features: np.ndarray, labels: np.ndarray, eps: float = 1e-4) -> float:
    """R(Z) − (1/C) Σ_c R(Z_c), Z the globally centred features, Z_c its rows of class c."""
    z = features - features.mean(axis=0, keepdims=True)
    n_classes = int(labels.max()) + 1
    per_class = sum(_coding_rate(z[labels == c], eps) for c in range(n_classes))
    return float(_coding_rate(z, eps) - per_class / n_classes)


# ----------------------------------------------------------------------------------------------------
# SFDA (TencentARC/SFDA ``metrics.py``: ``SFDA`` class and ``SFDA_Score``; ``utils.iterative_A``)
# ----------------------------------------------------------------------------------------------------


def _biased_cov(x: np.ndarray, shrinkage: float = -1.0) -> np.ndarray:
    cov = np.cov(np.asarray(x).T, bias=1)
    if shrinkage < 0:
        return cov
    d = cov.shape[0]
    shrunk = (1.0 - shrinkage) * cov
    shrunk.flat[:: d + 1] += shrinkage * np.trace(cov) / d
    return shrunk


def _power_top_eigenvalue(a: np.ndarray, steps: int = 3) -> float:
    """SFDA's ``iterative_A``: power iteration from the row sums, returning xᵀ A y."""
    x = a.sum(axis=1)
    for _ in range(steps):
        t = a @ x
        y = t / np.linalg.norm(t, 2)
        t = a @ y
        x = t / np.linalg.norm(t, 2)
    return float(x.T @ a @ y)


def _softmax_rows(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class _SfdaFit:
    """One regularised-FDA fit, as ``SFDA().fit`` does it (all D eigenvectors kept)."""

    def __init__(self, x: np.ndarray, labels: np.ndarray, shrinkage: float | None = None):
        classes, y = np.unique(labels, return_inverse=True)
        counts = np.bincount(y)
        priors = counts / float(len(labels))
        means = np.zeros((len(classes), x.shape[1]))
        np.add.at(means, y, x)
        means /= counts[:, None]
        s_w = np.zeros((x.shape[1], x.shape[1]))
        for idx in range(len(classes)):
            s_w += priors[idx] * np.atleast_2d(_biased_cov(x[y == idx]))
        if shrinkage is None:
            shrinkage = max(np.exp(-5 * _power_top_eigenvalue(s_w, 3)), 1e-10)
        self.shrinkage = shrinkage
        s_t = _biased_cov(x, shrinkage)
        d = s_w.shape[0]
        shrunk_w = (1.0 - shrinkage) * s_w
        shrunk_w.flat[:: d + 1] += shrinkage * np.trace(s_w) / d
        s_b = s_t - shrunk_w
        evals, evecs = scipy.linalg.eigh(s_b, shrunk_w)
        evecs = evecs[:, np.argsort(evals)[::-1]]
        self.coef = (means @ evecs) @ evecs.T
        self.intercept = -0.5 * np.diag(means @ self.coef.T) + np.log(priors)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return _softmax_rows(x @ self.coef.T + self.intercept)


def sfda_score(x: np.ndarray, labels: np.ndarray) -> float:
    """SFDA_Score: FDA posteriors, a second softmax, ConfMix (written into ``x``), refit, mean posterior."""
    n = len(labels)
    n_classes = len(np.unique(labels))
    first = _SfdaFit(x, labels)
    prob = first.predict_proba(x)
    prob = np.exp(prob) / np.exp(prob).sum(axis=1, keepdims=True)
    classes, y = np.unique(labels, return_inverse=True)
    counts = np.bincount(y)
    means = np.zeros((len(classes), x.shape[1]))
    np.add.at(means, y, x)
    means /= counts[:, None]
    outer = np.stack([(means.sum(axis=0) - means[c]) / (len(classes) - 1) for c in range(len(classes))])
    for c in range(n_classes):
        rows = np.where(labels == c)[0]
        p = prob[rows, c].reshape(-1, 1)
        x[rows] = p * x[rows] + (1 - p) * outer[c]
    second = _SfdaFit(x, labels, shrinkage=first.shrinkage)
    prob = second.predict_proba(x)
    return float(prob[np.arange(n), labels].sum() / n)


def logme_score(x: np.ndarray, labels: np.ndarray) -> float:
    return logme_fixed_point(x, labels)


# ----------------------------------------------------------------------------------------------------
# PED (lixiaotong97/PED ``metrics.py``: ``One_Step_PED``, ``PED_Score``), with its C×C×D force tensor
# ----------------------------------------------------------------------------------------------------


def _class_mean_var(x: np.ndarray, labels: np.ndarray):
    classes, y = np.unique(labels, return_inverse=True)
    counts = np.bincount(y)
    means = np.zeros((len(classes), x.shape[1]))
    np.add.at(means, y, x)
    means /= counts[:, None]
    variances = np.zeros((len(classes), x.shape[1]))
    for c in range(len(classes)):
        variances[c] = np.var(x[y == c], axis=0)
    return means, variances, counts


def _pair_forces(x, labels, *, amount):
    """The PED / FSP-attract skeleton: per-class rigid displacement from pairwise terms via a C×C×D tensor.

    ``amount(d, R, r)`` gives the signed displacement magnitude of each unordered pair (i < j).
    """
    means, variances, counts = _class_mean_var(x, labels)
    n_classes = counts.shape[0]
    tensor = np.zeros((n_classes, n_classes, x.shape[1]))
    radius = np.sqrt(variances.sum(axis=1))
    grid_i, grid_j = np.meshgrid(np.arange(n_classes), np.arange(n_classes))
    mask = np.triu(grid_i != grid_j, k=1)
    gi, gj = grid_i[mask], grid_j[mask]
    diff = means[gi] - means[gj]
    dist = np.sqrt((diff**2).sum(axis=1))
    unit = diff / dist.reshape(-1, 1)
    tensor[mask] = -unit * amount(dist, radius[gi], radius[gj]).reshape(-1, 1)
    tensor = tensor - np.transpose(tensor, (1, 0, 2))
    return tensor.sum(axis=1)


def _one_step_ped(x, labels, reference, *, time_step, eps, nsigma, constant):
    mean_ref = reference.mean(axis=0)
    std_ref = np.maximum(reference.std(axis=0), eps)
    z = (x - mean_ref) / std_ref

    def amount(d, big_r, small_r):
        overlap = np.maximum(abs(nsigma) * big_r + abs(nsigma) * small_r - d, 0)
        return np.minimum(0.5 * time_step**2 * (constant * overlap), overlap)

    shift = _pair_forces(z, labels, amount=amount)
    z = z + shift[labels]
    return z * std_ref + mean_ref, np.abs(shift).sum()  # a numpy float: 0/0 gives NaN, as in the original


def ped_score(x, labels, reference, *, metric="SFDA", exit_ratio=0.5, time_step=0.1, eps=1e-3,
              nsigma=0.6, constant=1.0) -> float:
    """PED_Score: up to 6 repulsion steps in reference-standardised space, then the wrapped metric."""
    steps = 0
    first = None
    while steps < 6:
        moved, change = _one_step_ped(x, labels, reference, time_step=time_step, eps=eps, nsigma=nsigma,
                                      constant=constant)
        if steps == 0:
            first = change
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.float64(change) / first
        if ratio > exit_ratio:
            x = moved
        else:
            break
        steps += 1
    return _wrapped(metric)(x, labels)


def _wrapped(metric: str):
    table = {"SFDA": sfda_score, "LOGME": logme_score}
    if metric not in table:
        raise ValueError(f"the transcription wraps only {sorted(table)}; got {metric!r}.")
    return table[metric]


# ----------------------------------------------------------------------------------------------------
# FSP / Spread-and-Attract (prafful-kumar/enhancing_TE ``metrics.py``: ``check_sa``, ``attract``, ``SA``)
# ----------------------------------------------------------------------------------------------------


def check_sa(x: np.ndarray) -> bool:
    """The scale gate: perturb iff max(exp(−5·mean(top-2 eigenvalues of Cov(X))), 1e-10) < 1e-9."""
    cov = np.atleast_2d(np.cov(np.asarray(x).T, bias=1))
    eigenvalues, _ = np.linalg.eig(cov)  # the general (non-symmetric) solver, as the original
    top2 = eigenvalues[np.argsort(eigenvalues)[::-1][:2]]
    return max(np.exp(-5 * np.mean(top2)), 1e-10) < 1e-9


def _feature_reduce(x: np.ndarray, dims: int = 64) -> np.ndarray:
    dims = min(dims, x.shape[0])
    return PCA(n_components=dims, svd_solver="randomized", random_state=1919, iterated_power=1).fit_transform(x)


def _spread(cluster: np.ndarray, centroid: np.ndarray, force: float) -> np.ndarray:
    direction = cluster - centroid
    return cluster + force * direction / np.linalg.norm(direction, axis=1)[:, None]


def sa_score(x, labels, *, alpha=0.005, metric="LOGME", sigma=0.6) -> float:
    """SA: gate, PCA-64, Spread (computed and discarded, as released), one signed Attract step, metric."""
    if check_sa(x):
        reduced = _feature_reduce(x, 64)
        spread = np.zeros_like(reduced)
        for label in sorted(np.unique(labels)):
            rows = np.where(labels == label)
            spread[rows] = _spread(reduced[rows], reduced[rows].mean(axis=0), 1)
        shift = _pair_forces(reduced, labels, amount=lambda d, big_r, small_r: alpha * (d - sigma * (big_r + small_r)))
        x = reduced + shift[labels]
    return _wrapped(metric)(x, labels)


# ----------------------------------------------------------------------------------------------------
# NCTI (BUserName/NCTI ``metrics.py::NCTI_Score`` and the zoo-level min-max combination)
# ----------------------------------------------------------------------------------------------------


def ncti_components(x: np.ndarray, labels: np.ndarray, *, svd_solver: str = "auto") -> tuple[float, float, float]:
    """(S_seli, S_ncc, S_vc): nuclear norm of the centred LDA projection, mean true-class LDA posterior,
    log Σ_c nuclear norm of class c's posterior rows.

    The official call is ``PCA(n_components=64)`` (``svd_solver="auto"``), which for max(N, D) > 500 and
    64 < 0.8·min(N, D) is scikit-learn's *unseeded* randomised solver: the value then varies from run to
    run by ~1e-3 relative. ``svd_solver="covariance_eigh"`` (or ``"full"``) gives the exact PCA, which is
    what transvis computes.
    """
    n_classes = np.unique(labels).shape[0]
    pca = PCA(n_components=64, svd_solver=svd_solver)
    z = pca.fit_transform(x, labels)
    tau = max(np.exp(-pca.explained_variance_[:32].sum()), 1e-10)
    if tau == 1e-10:
        lda = LinearDiscriminantAnalysis(solver="svd")
    else:
        lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage=float(tau))
    low = lda.fit_transform(z, labels)
    low = low - low.mean(axis=0, keepdims=True)
    seli = np.linalg.norm(low, ord="nuc")
    post = lda.predict_proba(z)
    ncc = post[np.arange(z.shape[0]), labels].sum() / z.shape[0]
    vc = sum(np.linalg.norm(post[labels == c], ord="nuc") for c in range(n_classes))
    return float(seli), float(ncc), float(np.log(vc))


def ncti_combine(components: dict) -> dict:
    """Zoo-level NCTI: min-max normalise each component over the models, then seli + ncc − vc."""
    names = list(components)
    table = np.array([components[m] for m in names], dtype=float)
    lo, hi = table.min(axis=0), table.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    normed = (table - lo) / span
    return {m: float(normed[i, 0] + normed[i, 1] - normed[i, 2]) for i, m in enumerate(names)}


# ----------------------------------------------------------------------------------------------------
# NLEEP (SFDA repo ``metrics.py::NLEEP``, with ``random_state=seed`` injected as the refvectors do)
# ----------------------------------------------------------------------------------------------------


def nleep_mean_prob(x: np.ndarray, labels: np.ndarray, *, component_ratio: int = 5, seed: int = 0) -> float:
    """PCA(0.8) → GaussianMixture(component_ratio·C) → the mean empirical prediction of the true class (no log)."""
    from sklearn.mixture import GaussianMixture

    n, n_classes = labels.size, int(labels.max()) + 1
    pca = PCA(n_components=0.8)
    pca.fit(x)
    reduced = pca.transform(x)
    prob = GaussianMixture(n_components=component_ratio * n_classes, random_state=seed).fit(reduced) \
        .predict_proba(reduced)
    pyz = np.stack([prob[labels == c].sum(axis=0) / n for c in range(n_classes)])
    py_x = prob @ (pyz / pyz.sum(axis=0)).T
    return float(py_x[np.arange(n), labels].mean())
