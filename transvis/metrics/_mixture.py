"""PCA scores from the shared eigendecomposition, and scikit-learn's full-covariance Gaussian mixture, leaner.

𝒩LEEP (``nleep.py``) fits ``GaussianMixture(n_components=K, random_state=seed)`` (full covariances, k-means
initialisation, ``tol=1e-3``, ``max_iter=100``, ``n_init=1``) on ``PCA(0.8)`` scores. :func:`fit_full_mixture`
runs the same EM with scikit-learn's own k-means initialisation and the same updates (scikit-learn 1.9
``sklearn/mixture/_base.py::fit_predict``, ``_gaussian_mixture.py``), without the work that cannot change a
result:

* **M-step.** Each component's mean and covariance are accumulated over the samples with a non-zero
  responsibility only (responsibilities are nearly one-hot: most underflow to exactly 0), not over all N rows.
* **E-step.** The Mahalanobis distances of all samples to a block of components come from one matrix product
  with the stacked precision Cholesky factors, instead of one product per component.
* **No repeated E-step.** scikit-learn's ``fit`` ends with an E-step and ``predict_proba`` runs another with
  the same parameters; the posteriors are computed once.
* **PCA** from the eigendecomposition of S_T that the other metrics share (:func:`pca_scores`), not an SVD of
  the N × D features.

(Pruning sample-component pairs by a cheap bound was tried: on the demo's features the bound ruled out under
1 % of the pairs, so it is not used.) The posteriors agree with scikit-learn's to round-off (the reference
vectors' ``nleep_*_seed0`` keys at ``rtol=1e-6``); ``bench/metrics.py`` times both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.special import logsumexp

# Components whose Mahalanobis distances are computed in one matrix product (bounds its N × block × d buffer).
_BLOCK_ELEMENTS = 2**24
_LOG_2PI = math.log(2 * math.pi)
_ILL_DEFINED = ("Fitting the mixture model failed because some components have ill-defined empirical covariance "
                "(for instance caused by singleton or collapsed samples).")


def pca_scores(stats, variance: float = 0.8) -> np.ndarray:
    """``PCA(n_components=variance).fit_transform(X)`` [N, d] from the shared eigendecomposition of S_T.

    d is scikit-learn's count: the fewest leading components whose explained-variance ratio reaches
    ``variance`` (``searchsorted(cumsum(ratio), variance, side="right") + 1``). The scores equal scikit-learn's
    up to each column's sign, which no distance-based fit can see.
    """
    if "total_eigh" in stats.__dict__:  # already paid for by another metric
        values = stats.total_eigh[0]
    else:  # eigenvalues only, then the kept eigenvectors: about a third of a full eigendecomposition
        values = stats.memo("total_eigvalsh", lambda: np.linalg.eigvalsh(np.asarray(stats.total_scatter))[::-1])
    values = np.clip(values, 0.0, None)
    ratio = np.cumsum(values) / values.sum()
    n_kept = int(min(np.searchsorted(ratio, variance, side="right") + 1, values.size))
    return stats.centered_dot(stats.top_eigh(n_kept)[1])


@dataclass(frozen=True)
class MixtureFit:
    """A fitted mixture's posteriors [N, K] (rows sum to 1), whether EM met ``tol``, and its iterations."""

    posteriors: np.ndarray
    converged: bool
    n_iter: int


def fit_full_mixture(points: np.ndarray, n_components: int, *, seed: int = 0, reg_covar: float = 1e-6,
                     tol: float = 1e-3, max_iter: int = 100) -> MixtureFit:
    """Posteriors of ``GaussianMixture(n_components, random_state=seed, reg_covar=reg_covar).fit(points)``.

    points : [N, d] float64; n_components ≤ N. Raises ``ValueError`` (scikit-learn's message) when a component
    covariance is not positive definite, as scikit-learn does.
    """
    from sklearn.cluster import KMeans

    points = np.ascontiguousarray(points, dtype=np.float64)
    n_samples = points.shape[0]
    if n_components > n_samples:
        raise ValueError(f"Expected n_samples >= n_components but got n_components = {n_components}, "
                         f"n_samples = {n_samples}")
    random_state = np.random.RandomState(seed)  # what GaussianMixture hands to its KMeans
    labels = KMeans(n_clusters=n_components, n_init=1, random_state=random_state).fit(points).labels_
    resp = np.zeros((n_samples, n_components))
    resp[np.arange(n_samples), labels] = 1.0
    model = _m_step(points, resp, reg_covar)
    model = _Components(model.weights / n_samples, model.means, model.cov_chol)  # _initialize: weights /= N
    lower_bound, converged, n_iter = -np.inf, False, 0
    for n_iter in range(1, max_iter + 1):
        previous = lower_bound
        log_norm, resp = _e_step(points, model)
        model = _m_step(points, resp, reg_covar)
        model = _Components(model.weights / model.weights.sum(), model.means, model.cov_chol)
        lower_bound = float(np.mean(log_norm))
        if abs(lower_bound - previous) < tol:
            converged = True
            break
    _, resp = _e_step(points, model)
    return MixtureFit(resp, converged, n_iter)


@dataclass(frozen=True)
class _Components:
    weights: np.ndarray  # [K]
    means: np.ndarray  # [K, d]
    cov_chol: np.ndarray  # [K, d, d] lower Cholesky factors of the covariances

    def precision_chol(self, k: int) -> np.ndarray:
        """scikit-learn's ``precisions_cholesky_[k]`` = L_k⁻ᵀ [d, d] (upper triangular)."""
        eye = np.eye(self.cov_chol.shape[1])
        return scipy.linalg.solve_triangular(self.cov_chol[k], eye, lower=True, check_finite=False).T

    @property
    def log_det_precision_chol(self) -> np.ndarray:
        """log det of each precision Cholesky factor, −Σ log diag(L_k) [K] (scikit-learn's ``log_det``)."""
        return -np.log(np.diagonal(self.cov_chol, axis1=1, axis2=2)).sum(axis=1)


def _m_step(points: np.ndarray, resp: np.ndarray, reg_covar: float) -> _Components:
    """scikit-learn's ``_estimate_gaussian_parameters`` (full) over each component's non-zero rows."""
    n_components, n_dims = resp.shape[1], points.shape[1]
    nk = resp.sum(axis=0) + 10 * np.finfo(resp.dtype).eps
    means = np.empty((n_components, n_dims))
    chol = np.empty((n_components, n_dims, n_dims))
    for k in range(n_components):
        rows = np.flatnonzero(resp[:, k])
        weight = resp[rows, k]
        means[k] = weight @ points[rows] / nk[k]
        diff = points[rows] - means[k]
        covariance = (weight * diff.T) @ diff / nk[k]
        covariance.flat[:: n_dims + 1] += reg_covar
        try:
            chol[k] = scipy.linalg.cholesky(covariance, lower=True)
        except np.linalg.LinAlgError as err:
            raise ValueError(_ILL_DEFINED) from err
    return _Components(nk, means, chol)


def _e_step(points: np.ndarray, model: _Components):
    """``(log_prob_norm [N], responsibilities [N, K])``: scikit-learn's ``_estimate_log_prob_resp``."""
    n_samples, n_dims = points.shape
    n_components = model.weights.size
    offset = np.log(model.weights) + model.log_det_precision_chol - 0.5 * n_dims * _LOG_2PI  # [K]
    weighted = np.empty((n_samples, n_components))
    block = max(1, _BLOCK_ELEMENTS // max(1, n_samples * n_dims))
    for start in range(0, n_components, block):
        ks = range(start, min(start + block, n_components))
        # precision Cholesky factors P_k = L_k⁻ᵀ stacked [d, |block|·d]: one product for the whole block
        chols = [model.precision_chol(k) for k in ks]
        factors = np.concatenate(chols, axis=1)
        shifts = np.concatenate([model.means[k] @ chol for k, chol in zip(ks, chols)])
        whitened = points @ factors - shifts
        squared = np.einsum("nkd,nkd->nk", *(whitened.reshape(n_samples, len(ks), n_dims),) * 2)
        weighted[:, start:start + len(ks)] = offset[start:start + len(ks)] - 0.5 * squared
    log_norm = logsumexp(weighted, axis=1)
    return log_norm, np.exp(weighted - log_norm[:, None])
