"""PCA scores from the shared eigendecomposition, and scikit-learn's full-covariance Gaussian mixture, leaner.

𝒩LEEP (``nleep.py``) fits ``GaussianMixture(n_components=K, random_state=seed)`` (full covariances, k-means
initialisation, ``tol=1e-3``, ``max_iter=100``, ``n_init=1``) on ``PCA(0.8)`` scores. :func:`fit_full_mixture`
runs the same EM with scikit-learn's own k-means initialisation and the same updates (scikit-learn 1.9
``sklearn/mixture/_base.py::fit_predict``, ``_gaussian_mixture.py``), without the work that cannot change a
result:

* **M-step.** Each component's mean and covariance are accumulated over the samples with a non-zero
  responsibility only (responsibilities are nearly one-hot: most underflow to exactly 0), not over all N rows.
* **E-step.** The Mahalanobis distances of all samples to a block of components come from one matrix product
  with the stacked precision Cholesky factors, instead of one product per component. Given each sample's
  likely component (the previous step's argmax, k-means labels at first), pairs whose responsibility is
  exactly 0 in float64 anyway are ruled out first by lower bounds from prefixes (d/8, d/4, d/2) of the
  whitened coordinates (the precision factors are triangular), and only the rest get their full distance
  (:func:`_pruned_log_weights`; on the bench's features 2 % of the pairs survive, and the E-step costs ~1/4).
* **No repeated E-step.** scikit-learn's ``fit`` ends with an E-step and ``predict_proba`` runs another with
  the same parameters; the posteriors are computed once.
* **Fixed-point exit.** When an E-step returns, bit for bit, the responsibilities the current model was built
  from, the M-step would rebuild that model and every later step repeats itself; the fit stops there with
  scikit-learn's posteriors, ``n_iter_`` and ``converged_``. With more PCA dimensions than samples per component
  (NLEEP's usual case) every responsibility is 0 or 1 and the first E-step returns k-means' assignment: one
  M-step and one E-step instead of three of each.
* **PCA** from the eigendecomposition of S_T that the other metrics share (:func:`pca_scores`), not an SVD of
  the N × D features.

The posteriors agree with scikit-learn's to round-off (the reference
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
# E-step pruning (_pruned_log_weights): a log weight this far below the best one has a responsibility of exactly 0
# in float64 (exp(-745.2) already underflows); prefixes of the whitened coordinates used as bounds, as fractions
# of d; the fraction of pairs still alive above which the bound is abandoned for the full product; the smallest
# d worth it.
_PRUNE_GAP = 800.0
_PREFIX_BLOCK_ELEMENTS = 2**20  # small products: a fresh 100 MB temporary costs more in page faults than it saves
_PRUNE_PREFIXES = (0.125, 0.25, 0.5)
_PRUNE_GIVE_UP = 0.9
_MIN_PRUNE_DIMS = 16
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
    weights = model.weights / n_samples  # _initialize: weights /= N; the loop's M-step divides by their sum
    # responsibilities the current model is the M-step of, as the loop builds it (for the fixed-point exit below)
    previous_resp = resp if np.array_equal(weights, model.weights / model.weights.sum()) else None
    model = _Components(weights, model.means, model.cov_chol)
    lower_bound, converged, n_iter = -np.inf, False, 0
    guess = labels  # each sample's likely component, for the E-step's pruning
    for n_iter in range(1, max_iter + 1):
        previous = lower_bound
        log_norm, resp = _e_step(points, model, guess)
        lower_bound = float(np.mean(log_norm))
        if previous_resp is not None and np.array_equal(resp, previous_resp):
            # A fixed point: the M-step would rebuild the model this E-step used, bit for bit, so every later
            # E-step returns these responsibilities and the same bound. scikit-learn stops here or one step later.
            converged = abs(lower_bound - previous) < tol or n_iter < max_iter
            n_iter += int(not abs(lower_bound - previous) < tol and n_iter < max_iter)
            return MixtureFit(resp, converged, n_iter)
        previous_resp = resp
        guess = resp.argmax(axis=1)
        model = _m_step(points, resp, reg_covar)
        model = _Components(model.weights / model.weights.sum(), model.means, model.cov_chol)
        if abs(lower_bound - previous) < tol:
            converged = True
            break
    _, resp = _e_step(points, model, guess)
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
    """scikit-learn's ``_estimate_gaussian_parameters`` (full) over each component's non-zero rows.

    The weighted scatter is one symmetric rank-n_k product (BLAS ``syrk``, half a general product's flops) of the
    rows scaled by √weight; only its lower triangle is formed, which is all the Cholesky factorisation reads.
    """
    n_components, n_dims = resp.shape[1], points.shape[1]
    nk = resp.sum(axis=0) + 10 * np.finfo(resp.dtype).eps
    means = np.empty((n_components, n_dims))
    chol = np.empty((n_components, n_dims, n_dims))
    for k in range(n_components):
        rows = np.flatnonzero(resp[:, k])
        weight = resp[rows, k]
        means[k] = weight @ points[rows] / nk[k]
        scaled = np.sqrt(weight)[:, None] * (points[rows] - means[k])
        covariance = scipy.linalg.blas.dsyrk(1.0 / nk[k], scaled, trans=1, lower=1)
        covariance.flat[:: n_dims + 1] += reg_covar
        factor, info = scipy.linalg.lapack.dpotrf(covariance, lower=1, clean=1, overwrite_a=1)
        if info != 0:
            raise ValueError(_ILL_DEFINED)
        chol[k] = factor
    return _Components(nk, means, chol)


def _precision_factors(model: _Components) -> list[np.ndarray]:
    """Every component's ``precisions_cholesky_[k]`` = L_k⁻ᵀ [d, d] (a triangular inverse, LAPACK ``trtri``)."""
    out = []
    for k in range(model.weights.size):
        inverse, info = scipy.linalg.lapack.dtrtri(model.cov_chol[k], lower=1)
        if info != 0:  # not reachable for a Cholesky factor of a positive definite matrix; be safe
            return [model.precision_chol(k) for k in range(model.weights.size)]
        out.append(inverse.T)
    return out


def _e_step(points: np.ndarray, model: _Components, guess: np.ndarray | None = None):
    """``(log_prob_norm [N], responsibilities [N, K])``: scikit-learn's ``_estimate_log_prob_resp``.

    With ``guess`` (each sample's likely component [N], e.g. the previous step's argmax), pairs whose
    responsibility is exactly 0 in float64 are ruled out before their full distance is computed
    (:func:`_pruned_log_weights`); the result is the same.
    """
    n_samples, n_dims = points.shape
    n_components = model.weights.size
    offset = np.log(model.weights) + model.log_det_precision_chol - 0.5 * n_dims * _LOG_2PI  # [K]
    weighted = None
    if guess is not None and n_components > 2 and n_dims >= _MIN_PRUNE_DIMS:
        weighted = _pruned_log_weights(points, model, offset, guess)
    if weighted is None:
        weighted = _full_log_weights(points, model.means, _precision_factors(model), offset)
    log_norm = logsumexp(weighted, axis=1)
    return log_norm, np.exp(weighted - log_norm[:, None])


def _full_log_weights(points, means, factors, offset) -> np.ndarray:
    """log π_k + log N(x_i | μ_k, Σ_k) [N, K] for every pair."""
    n_samples, n_dims = points.shape
    n_components = offset.size
    weighted = np.empty((n_samples, n_components))
    block = max(1, _BLOCK_ELEMENTS // max(1, n_samples * n_dims))
    for start in range(0, n_components, block):
        ks = range(start, min(start + block, n_components))
        # precision Cholesky factors P_k = L_k⁻ᵀ stacked [d, |block|·d]: one product for the whole block
        chols = [factors[k] for k in ks]
        stacked = np.concatenate(chols, axis=1)
        shifts = np.concatenate([means[k] @ chol for k, chol in zip(ks, chols)])
        whitened = points @ stacked - shifts
        squared = np.einsum("nkd,nkd->nk", *(whitened.reshape(n_samples, len(ks), n_dims),) * 2)
        weighted[:, start:start + len(ks)] = offset[start:start + len(ks)] - 0.5 * squared
    return weighted


def _exact_pairs(points, rows, k, model: _Components, offset) -> np.ndarray:
    """log π_k + log N(x_i | μ_k, Σ_k) for the samples ``rows`` of component k: the whitened residuals
    L_k⁻¹ (x − μ_k) by one triangular solve (``trsm``, rows·d² flops), not through the explicit inverse, whose
    d³/3 per component per step would cost more than the pairs that survive pruning."""
    residuals = (points[rows] - model.means[k]).T  # [d, rows]
    whitened = scipy.linalg.solve_triangular(model.cov_chol[k], residuals, lower=True, check_finite=False)
    return offset[k] - 0.5 * np.einsum("dn,dn->n", whitened, whitened)


def _leading_precision_blocks(model: _Components, size: int) -> list[np.ndarray] | None:
    """The leading [size, size] block of every P_k = L_k⁻ᵀ: the inverse of a triangular matrix's leading block
    is the leading block of its inverse, so this costs (size/d)³ of :func:`_precision_factors`. None when a
    factor is singular (not reachable for a Cholesky factor of a positive definite matrix)."""
    out = []
    for k in range(model.weights.size):
        inverse, info = scipy.linalg.lapack.dtrtri(model.cov_chol[k, :size, :size], lower=1)
        if info != 0:
            return None
        out.append(inverse.T)
    return out


def _pruned_log_weights(points, model: _Components, offset, guess) -> np.ndarray | None:
    """:func:`_full_log_weights` with −inf where the responsibility is exactly 0 anyway, or None when too few
    pairs can be ruled out.

    P_k = L_k⁻ᵀ is upper triangular, so the first J whitened coordinates (x − μ_k)ᵀ P_k[:, :J] depend on the
    first J coordinates only (and need only P_k's leading J × J block), and their squared norm is a lower bound
    of the Mahalanobis distance at a (J/d)² fraction of the cost. Each sample's exact log weight for its
    ``guess`` component bounds its log-normaliser from below; a pair whose upper bound on the log weight lies
    more than ``_PRUNE_GAP`` below it has exp(weight − log_norm) < e^-800, which is 0 in float64
    (scikit-learn's value too), and adds nothing to the log-normaliser. The bound is refined over growing
    prefixes (d/8 for every pair, then d/4, d/2 for the pairs still in); the survivors get their exact weight
    (:func:`_exact_pairs`).
    """
    n_samples, n_dims = points.shape
    n_components = offset.size
    means = model.means
    guess = np.asarray(guess, dtype=np.intp)
    stops = []
    for fraction in _PRUNE_PREFIXES:
        stops.append(max(stops[-1] + 1 if stops else 1, int(n_dims * fraction)))
    heads = _leading_precision_blocks(model, stops[-1])
    if heads is None:
        return None
    weighted = np.full((n_samples, n_components), -np.inf)
    for k in range(n_components):
        rows = np.flatnonzero(guess == k)
        if rows.size:
            weighted[rows, k] = _exact_pairs(points, rows, k, model, offset)
    threshold = weighted[np.arange(n_samples), guess] - _PRUNE_GAP  # [N]
    alive = np.ones((n_samples, n_components), dtype=bool)
    alive[np.arange(n_samples), guess] = False  # already exact
    # first prefix for every pair: one product per block of components, as in the full path
    stop = stops[0]
    partial = np.empty((n_samples, n_components))
    block = max(1, _PREFIX_BLOCK_ELEMENTS // max(1, n_samples * stop))
    head = np.ascontiguousarray(points[:, :stop])
    for start in range(0, n_components, block):
        ks = range(start, min(start + block, n_components))
        stacked = np.concatenate([heads[k][:stop, :stop] for k in ks], axis=1)
        shifts = np.concatenate([means[k, :stop] @ heads[k][:stop, :stop] for k in ks])
        whitened = head @ stacked - shifts
        partial[:, start:start + len(ks)] = np.einsum("nkd,nkd->nk", *(whitened.reshape(n_samples, len(ks), stop),) * 2)
    alive &= offset - 0.5 * partial * (1.0 - 1e-9) >= threshold[:, None]  # upper bound on the log weight
    previous = stop
    for stop in stops[1:]:
        for k in range(n_components):
            rows = np.flatnonzero(alive[:, k])
            if not rows.size:
                continue
            factor = heads[k][:stop, previous:stop]
            block = points[rows, :stop] @ factor - means[k, :stop] @ factor
            partial[rows, k] += np.einsum("nd,nd->n", block, block)
            bound = offset[k] - 0.5 * partial[rows, k] * (1.0 - 1e-9)
            alive[rows[bound < threshold[rows]], k] = False
        previous = stop
    if alive.mean() > _PRUNE_GIVE_UP:  # the bound hardly prunes: the full product is cheaper than gathers
        return None
    for k in range(n_components):
        rows = np.flatnonzero(alive[:, k])
        if rows.size:
            weighted[rows, k] = _exact_pairs(points, rows, k, model, offset)
    return weighted
