"""SFDA: Self-challenging Fisher Discriminant Analysis (Shao et al., ECCV 2022).

Shao, Zhao, Ge, Wang, Li, Luo, "Not All Models Are Equal: Predicting Model Transferability in a
Self-challenging Fisher Space", ECCV 2022. Official code: TencentARC/SFDA ``metrics.py`` (``SFDA``,
``SFDA_Score``) and ``utils.py::iterative_A``, commit 3b7edf7.

The official score is two fits of a shrinkage LDA with the shared within-class covariance
``S_W^λ = (1−λ) S_W + λ (tr S_W / D) I``:

1. λ = max(exp(−5 λ̂_max(S_W)), 1e-10), λ̂_max from 3 power-iteration steps (:func:`adaptive_shrinkage`);
2. first-pass posteriors ``P1 = softmax(x S^{-1} μ_cᵀ − ½ μ_c S^{-1} μ_cᵀ + log π_c)``;
3. ConfMix: ``p_i = softmax(P1[i])[y_i]`` (a second softmax over probabilities), and every sample moves
   towards the mean of the *other* class means, ``x_i ← p_i x_i + (1−p_i) μ̄_{−y_i}``;
4. the same LDA (same λ) refit on the mixed features; the score is ``mean_i P2[i, y_i]`` (no log).

The official code solves the generalised eigenproblem ``S_B^λ v = w S_W^λ v`` and forms
``coef_ = M V Vᵀ``; since ``V Vᵀ = (S_W^λ)^{-1}`` the score depends only on that inverse. Here it is a
Cholesky solve (``stats.backend.psd_solver``), which also runs when S_W is singular, and the Fisher
directions are computed only when asked for (:func:`fisher_directions`, ``ShrinkageLDA.scalings_``).

Cost: the first pass uses the shared S_W (its shrunk Cholesky factor is kept on the statistics, so PED's
rigidly moved features re-use it). The ConfMix-ed features are never formed: their class means need one
weighted pass, their S'_W one Gram pass over the mixed residuals (or, when most samples share one ConfMix
weight — a saturated first pass — the shared S_W plus a correction for the other samples), and the second
pass's logits one centred product (:class:`_ConfMixMoments`).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.special

from ._backend import get_backend
from ._contract import MetricResult, MetricSpec, register
from ._degeneracy import FIX_MORE_SAMPLES, REL_TOL, fit_dims, fmt
from ._stats import ClassStats, ensure_stats, metric_stats

SHRINKAGE_FLOOR = 1e-10
POWER_ITERATIONS = 3
# Relative size of the isotropic term used when every class is a point mass (tr S_W ≈ 0), where the official
# generalised eigh raises: it gives the nearest-class-mean limit of the posteriors.
_POINT_MASS_RIDGE = 1e-12


def power_iteration_top_eigenvalue(sym: np.ndarray, n_iter: int = POWER_ITERATIONS) -> float:
    """Largest eigenvalue of a symmetric PSD matrix [D, D] as SFDA's ``iterative_A`` estimates it.

    Starts from the row sums ``x = A·1`` and repeats ``n_iter`` times ``y = Ax/‖Ax‖, x = Ay/‖Ay‖``;
    returns ``xᵀ A y``. Where the official iteration divides by zero (``A·1 = 0``, e.g. features that
    sum to a constant, or ``A = 0``) the exact largest eigenvalue is returned instead.
    """
    sym = np.asarray(sym, dtype=np.float64)
    x = sym.sum(axis=1)
    y = x
    for _ in range(n_iter):
        ax = sym @ x
        norm = np.linalg.norm(ax)
        if not np.isfinite(norm) or norm == 0.0:
            return _exact_top_eigenvalue(sym)
        y = ax / norm
        ay = sym @ y
        x = ay / np.linalg.norm(ay)
    return float(x @ sym @ y)


def _exact_top_eigenvalue(sym: np.ndarray) -> float:
    if not np.any(sym):
        return 0.0
    d = sym.shape[0]
    return float(scipy.linalg.eigvalsh(sym, subset_by_index=[d - 1, d - 1], check_finite=False)[0])


def adaptive_shrinkage(within_scatter: np.ndarray, n_iter: int = POWER_ITERATIONS, *,
                       unit_scale: float = 1.0) -> tuple[float, float]:
    """SFDA's shrinkage ``λ = max(exp(−5 λ̂_max), 1e-10)`` of the within-class scatter S_W [D, D].

    Returns ``(λ, λ̂_max)``. λ depends on the absolute feature scale: it sits at its 1e-10 floor as soon as
    λ̂_max > ln(1e10)/5 ≈ 4.6 (raw CNN features), and approaches 1 for tiny-scale features.
    ``unit_scale``: what the features behind S_W were divided by (``ClassStats.rescaled``); λ̂_max is then that
    of the caller's features, ``unit_scale²·λ̂_max(S_W)`` (possibly inf), so λ is the original rule's.
    """
    lambda_max = power_iteration_top_eigenvalue(within_scatter, n_iter)
    if unit_scale != 1.0 and lambda_max > 0.0:
        with np.errstate(over="ignore", under="ignore"):
            lambda_max = float(lambda_max * np.float64(unit_scale) ** 2)
    return max(float(np.exp(-5.0 * lambda_max)), SHRINKAGE_FLOOR), lambda_max


def shrink(scatter: np.ndarray, shrinkage: float) -> np.ndarray:
    """``(1−λ) S + λ (tr S / D) I`` [D, D] (a new array; SFDA's ``_cov(X, shrinkage)``)."""
    d = scatter.shape[0]
    out = (1.0 - shrinkage) * np.asarray(scatter, dtype=np.float64)
    out.flat[:: d + 1] += shrinkage * np.trace(scatter) / d
    return out


def _check_shrinkage(shrinkage) -> float | None:
    if shrinkage is None:
        return None
    value = float(shrinkage)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"shrinkage must lie in [0, 1] (or be None for SFDA's adaptive value); got {shrinkage!r}.")
    return value


def fisher_directions(between_scatter: np.ndarray, within_scatter: np.ndarray, *, backend="numpy"):
    """Generalised eigenpairs of ``S_B v = w S_W v`` (both [D, D], ``S_W`` positive definite), descending.

    Returns ``(eigenvalues [D], vectors [D, D])`` with ``Vᵀ S_W V = I`` (what ``scipy.linalg.eigh(S_B, S_W)``
    returns, sorted descending as SFDA's ``scalings_``). Computed by whitening with ``eigh(S_W)`` so it
    runs on any backend; eigenvalues of S_W below 1e-12 of the largest are clipped there. Each column's
    sign is fixed so its largest-magnitude entry is positive (stable pictures across frames).
    """
    backend = get_backend(backend)
    w_within, basis = backend.eigh(np.asarray(within_scatter, dtype=np.float64))
    w_within = np.maximum(w_within, max(float(w_within.max()), np.finfo(float).tiny) * 1e-12)
    whiten = basis / np.sqrt(w_within)
    reduced = backend.matmul(whiten.T, backend.matmul(np.asarray(between_scatter, dtype=np.float64), whiten))
    values, rotation = backend.eigh(0.5 * (reduced + reduced.T))
    order = np.argsort(values)[::-1]
    vectors = backend.matmul(whiten, rotation[:, order])
    pivot = np.abs(vectors).argmax(axis=0)
    vectors *= np.where(vectors[pivot, np.arange(vectors.shape[1])] < 0, -1.0, 1.0)
    return values[order], vectors


class ShrinkageLDA:
    """Linear discriminant analysis with SFDA's shrunk shared covariance, scikit-learn style.

    ``p(c | x) = softmax_c((x − x̄)ᵀ S^{-1} (μ_c − x̄) − ½ (μ_c − x̄)ᵀ S^{-1} (μ_c − x̄) + log π_c)``
    with ``S = S_W^λ``. This equals the official ``SFDA().fit(X, y).predict_proba(X)``; the centring by the
    sample mean x̄ only removes a class-independent term from each row (better conditioned at large scale).

    Parameters
    ----------
    shrinkage : float in [0, 1], optional
        λ; ``None`` = SFDA's adaptive value (:func:`adaptive_shrinkage`).
    backend, device : where the D×D solve and N×D products run.

    Attributes (after ``fit``)
    --------------------------
    priors_ [C], means_ [C, D], xbar_ [D] (sample mean), covariance_ [D, D] (S_W, biased, prior-weighted),
    shrinkage_ (λ), lambda_max_ (power-iteration estimate of λ_max(S_W); None when λ was given),
    coef_ [C, D] = (μ_c − x̄)ᵀ S^{-1}, intercept_ [C]; lazily ``scalings_`` [D, D] and ``fisher_eigenvalues_``
    [D] (the generalised eigenproblem of S_B^λ against S_W^λ, descending), used by :meth:`transform`.
    """

    def __init__(self, shrinkage: float | None = None, *, backend="auto", device=None):
        self.shrinkage = shrinkage
        self.backend = backend
        self.device = device

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, X, y, *, stats: ClassStats | None = None) -> "ShrinkageLDA":
        """Fit on features X [N, D] and labels y [N] in 0..C-1 (or on a prepared :class:`ClassStats`)."""
        stats = ensure_stats(X, y, stats, backend=self.backend, device=self.device)
        return self._fit_stats(stats)

    def _fit_stats(self, stats: ClassStats) -> "ShrinkageLDA":
        return self._fit_moments(
            stats.class_means, stats.priors, stats.mean, stats.within_scatter,
            between_scatter=lambda: stats.between_scatter, backend=stats.backend,
            total_trace=float(np.trace(stats.total_scatter)), memo=stats.within_memo,
            unit_scale=getattr(stats, "unit_scale", 1.0),
        )

    @classmethod
    def from_moments(cls, class_means, priors, within_scatter, *, between_scatter=None, shrinkage=None,
                     backend="auto", device=None) -> "ShrinkageLDA":
        """Fit from sufficient statistics: class means [C, D], priors [C], S_W [D, D] (biased, π-weighted).

        ``between_scatter`` (S_B [D, D]) is needed only for :meth:`transform`; when omitted it is
        rebuilt from the means and priors.
        """
        model = cls(shrinkage, backend=backend, device=device)
        means = np.asarray(class_means, dtype=np.float64)
        priors = np.asarray(priors, dtype=np.float64)
        xbar = priors @ means
        within = np.asarray(within_scatter, dtype=np.float64)
        diff = means - xbar
        if between_scatter is None:
            def between_getter():
                return (diff * priors[:, None]).T @ diff
        else:
            between_getter = lambda: np.asarray(between_scatter, dtype=np.float64)  # noqa: E731
        # tr S_T = tr S_W + tr S_B
        total_trace = float(np.trace(within) + (priors * (diff**2).sum(axis=1)).sum())
        return model._fit_moments(means, priors, xbar, within, between_scatter=between_getter,
                                  backend=get_backend(backend, device), total_trace=total_trace)

    def _fit_moments(self, means, priors, xbar, within, *, between_scatter, backend, total_trace, memo=None,
                     unit_scale: float = 1.0):
        shrinkage = _check_shrinkage(self.shrinkage)
        self._backend = backend
        self.priors_ = np.asarray(priors, dtype=np.float64)
        self.means_ = np.asarray(means, dtype=np.float64)
        self.xbar_ = np.asarray(xbar, dtype=np.float64)
        self.covariance_ = within
        self.n_classes_, self.n_features_in_ = self.means_.shape

        def factorise():
            if shrinkage is None:
                lam, lam_max = adaptive_shrinkage(within, unit_scale=unit_scale)
            else:
                lam, lam_max = shrinkage, None
            shrunk = _shrunk_within(within, lam, total_trace)
            shrunk.flags.writeable = False
            return lam, lam_max, shrunk, backend.psd_solver(shrunk)

        if memo is not None and not _point_masses(within, total_trace):
            # λ, S_W^λ and its Cholesky factor depend on S_W alone: shared by every fit on the same S_W (PED's
            # rigidly moved classes keep it, so its first pass re-uses SFDA's factorisation).
            factors = memo(("sfda_shrunk_within", shrinkage), factorise)
        else:
            factors = factorise()
        self.shrinkage_, self.lambda_max_, self.shrunk_covariance_, solve = factors
        centred_means = self.means_ - self.xbar_
        solved = solve(centred_means.T)  # S^{-1}(μ_c − x̄) [D, C]
        self.coef_ = np.ascontiguousarray(solved.T)
        self.intercept_ = -0.5 * np.einsum("cd,cd->c", centred_means, self.coef_) + np.log(self.priors_)
        self._between_scatter = between_scatter
        self._fisher = None
        return self

    # -- prediction --------------------------------------------------------------------------------
    def decision_function(self, X) -> np.ndarray:
        """Logits [N, C] of features X [N, D] (class-independent row offsets differ from the official)."""
        return self.decision_function_centred(np.asarray(X, dtype=np.float64) - self.xbar_)

    def decision_function_centred(self, X_centred) -> np.ndarray:
        """Logits [N, C] of already centred features ``X − xbar_`` [N, D] (avoids one N×D copy)."""
        return self._backend.matmul(X_centred, self.coef_.T) + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        """Posteriors p(c | x) [N, C]."""
        return scipy.special.softmax(self.decision_function(X), axis=1)

    def predict(self, X) -> np.ndarray:
        """Most probable class [N]."""
        return self.decision_function(X).argmax(axis=1)

    # -- Fisher space ------------------------------------------------------------------------------
    def _fisher_pair(self):
        if self._fisher is None:
            between = shrink(self._between_scatter(), self.shrinkage_)
            self._fisher = fisher_directions(between, self.shrunk_covariance_, backend=self._backend)
        return self._fisher

    @property
    def fisher_eigenvalues_(self) -> np.ndarray:
        """Generalised eigenvalues of S_B^λ against S_W^λ, descending [D] (computed on first access)."""
        return self._fisher_pair()[0]

    @property
    def scalings_(self) -> np.ndarray:
        """Fisher directions V [D, D], columns sorted by descending eigenvalue, ``Vᵀ S_W^λ V = I``."""
        return self._fisher_pair()[1]

    def transform(self, X, n_components: int | None = None) -> np.ndarray:
        """Fisher projection ``(X − x̄) V[:, :k]`` [N, k]; k defaults to min(C−1, D) as in SFDA.

        The official ``transform`` projects the uncentred X; the two differ by a constant shift.
        """
        k = min(self.n_classes_ - 1, self.n_features_in_) if n_components is None else int(n_components)
        if not 1 <= k <= self.n_features_in_:
            raise ValueError(f"n_components must be in 1..{self.n_features_in_}; got {n_components!r}.")
        return self._backend.matmul(np.asarray(X, dtype=np.float64) - self.xbar_, self.scalings_[:, :k])


def _point_masses(within: np.ndarray, total_trace: float) -> bool:
    """True when every class is (numerically) a single point: tr S_W ≈ 0 relative to tr S_T."""
    return float(np.trace(within)) <= 64 * np.finfo(float).eps * max(total_trace, 0.0)


def _shrunk_within(within: np.ndarray, shrinkage: float, total_trace: float) -> np.ndarray:
    """S_W^λ, with a tiny isotropic floor only when every class is a point mass (tr S_W ≈ 0)."""
    shrunk = shrink(within, shrinkage)
    d = within.shape[0]
    if _point_masses(within, total_trace):
        # The official generalised eigh raises here; the floor gives the nearest-class-mean limit.
        scale = total_trace / d if total_trace > 0 else 1.0
        shrunk.flat[:: d + 1] += _POINT_MASS_RIDGE * scale
    return shrunk


# -- ConfMix ----------------------------------------------------------------------------------------
def outer_class_means(class_means: np.ndarray) -> np.ndarray:
    """Unweighted mean of the *other* class means, ``(Σ_j μ_j − μ_c)/(C−1)`` [C, D]."""
    means = np.asarray(class_means, dtype=np.float64)
    return (means.sum(axis=0) - means) / (means.shape[0] - 1)


def confmix_weights(posteriors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ConfMix weights p_i [N] from first-pass posteriors [N, C]: ``softmax(P1[i])[y_i]``.

    The official "softening" is a second softmax over probabilities, so every p_i lies in
    ``[1/(e+C−1), e/(e+C−1)]``: samples move ≥ 77 % (C=10) to ≥ 97 % (C=100) towards the outer mean.
    """
    soft = scipy.special.softmax(np.asarray(posteriors, dtype=np.float64), axis=1)
    return soft[np.arange(soft.shape[0]), np.asarray(labels)]


def confmix(features, labels, weights, *, class_means=None) -> np.ndarray:
    """Mixed features [N, D]: ``x_i ← p_i x_i + (1−p_i) μ̄_{−y_i}`` (a new array, inputs untouched).

    ``weights`` p [N] (see :func:`confmix_weights`); ``class_means`` [C, D] default to those of ``features``.
    For an animation, ``x + t (confmix(x) − x)`` interpolates with t in [0, 1].
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if class_means is None:
        class_means = ClassStats(x, y).class_means
    p = np.asarray(weights, dtype=np.float64)[:, None]
    return p * x + (1.0 - p) * outer_class_means(class_means)[y]


class _ConfMixMoments:
    """Moments of the ConfMix-ed features, built from the shared statistics without an N×D array.

    With o_c = μ̄_{−c} (the outer mean), d_c = μ_c − o_c, r_i = x_i − μ_c, p̄_c the class mean of p and
    q_c = mean_{i∈c} p_i r_i, the mixed sample is x'_i = o_c + p_i (x_i − o_c), so its class mean is
    m'_c = o_c + p̄_c d_c + q_c and its residual is e_i = p_i (x_i − o_c) − v_c with v_c = p̄_c d_c + q_c:
    S'_W = (1/N) Σ e eᵀ is one Gram pass of these residuals (``ClassStats.affine_row_scatter``: no per-class
    loop, no uncentred-Gram cancellation), and the logits of the mixed features need only the centred
    product (X − x̄)·W (:meth:`residual_dot`).
    """

    def __init__(self, stats: ClassStats, weights: np.ndarray):
        self.stats = stats
        self.weights = np.asarray(weights, dtype=np.float64)
        self.outer = outer_class_means(stats.class_means)
        self.shift = stats.class_means - self.outer  # d_c
        self.p_bar = np.bincount(stats.labels, weights=self.weights, minlength=stats.n_classes) / stats.counts
        self.q = stats.class_residual_sums(self.weights) / stats.counts[:, None]
        self.offsets = self.p_bar[:, None] * self.shift + self.q  # v_c
        self.means = self.outer + self.offsets

    def within_scatter(self) -> np.ndarray:
        """S'_W [D, D] (biased, π-weighted): one Gram pass over the mixed residuals, or, when most samples share
        one ConfMix weight, the shared S_W plus a correction for the others (:meth:`_common_weight_scatter`)."""
        shortcut = self._common_weight_scatter()
        if shortcut is not None:
            return shortcut
        return self.stats.affine_row_scatter(self.weights, self.outer, self.offsets)

    def _common_weight_scatter(self) -> np.ndarray | None:
        """S'_W from the shared S_W when at least 3/4 of the weights equal one value α (else None).

        A saturated first pass (one-hot posteriors, common with raw high-dimensional features where λ sits at
        its floor) gives every such sample the same p_i = α. With S the samples of weight α, U the others,
        k_c = (α − p̄_c) d_c − q_c and s_c = Σ_{i∈S∩c} r_i = −Σ_{i∈U∩c} r_i, the residual of i ∈ S is
        e_i = α r_i + k_c, so exactly

            N·S'_W = α²·N·S_W − α² Σ_U r rᵀ + Σ_U e eᵀ + Σ_c [α (s_c k_cᵀ + k_c s_cᵀ) + |S∩c| k_c k_cᵀ]

        which costs a Gram of the |U| other rows instead of all N. Not used when S_W carries visible
        cancellation from S_T − S_B (tr S_W < 1e-3·tr S_T).
        """
        stats, p = self.stats, self.weights
        n = stats.n_samples
        values, counts = np.unique(p, return_counts=True)
        common = int(counts.argmax())
        if 4 * (n - counts[common]) > n:
            return None
        within = stats.within_scatter
        if not np.trace(within) >= 1e-3 * np.trace(stats.total_scatter):
            return None
        alpha = float(values[common])
        others = np.flatnonzero(p != alpha)
        labels = stats.labels[others]
        resid = stats.residual_rows(others)  # r_i [|U|, D]
        mixed = resid + self.shift[labels]  # e_i = p_i (r_i + d_c) − v_c
        mixed *= p[others, None]
        mixed -= self.offsets[labels]
        total = (alpha**2 * n) * within
        common_counts = stats.counts - np.bincount(labels, minlength=stats.n_classes)
        k = (alpha - self.p_bar)[:, None] * self.shift - self.q
        total += (k * common_counts[:, None]).T @ k
        if others.size:
            backend = stats.backend
            total -= alpha**2 * backend.gram(resid)
            total += backend.gram(mixed)
            cross = alpha * (-np.asarray(stats.block_indicator(others) @ resid)).T @ k  # Σ_c s_c k_cᵀ
            total += cross
            total += cross.T
        total /= n
        return total

    def residual_dot(self, matrix: np.ndarray, class_offsets: np.ndarray | None = None) -> np.ndarray:
        """``e_i · matrix + class_offsets[y_i]`` [N, k] for matrix [D, k] (class_offsets [C, k], default 0):
        ``p_i ((x_i − x̄)·W − (o_c − x̄)·W) − v_c·W``, from one centred product (the residuals are never formed;
        the per-class terms are added block by block, without N×k temporaries)."""
        stats = self.stats
        out = stats.centered_dot(matrix)
        centre_terms = (self.outer - stats.mean) @ matrix  # (o_c − x̄)·W [C, k]
        constant_terms = -(self.offsets @ matrix)  # −v_c·W
        if class_offsets is not None:
            constant_terms += class_offsets
        labels, weights = stats.labels, self.weights
        step = max(1, (1 << 16) // max(out.shape[1], 1))
        for start in range(0, stats.n_samples, step):
            rows = slice(start, min(start + step, stats.n_samples))
            block, y = out[rows], labels[rows]
            block -= centre_terms[y]
            block *= weights[rows, None]
            block += constant_terms[y]
        return out

    def residual_blocks(self):
        """Yield ``(rows, e)``: the mixed features' within-class residuals e_i [n_rows, D] by row slice."""
        stats, p = self.stats, self.weights
        for rows, resid in stats.residual_blocks():
            y = stats.labels[rows]
            resid += self.shift[y]  # x_i − o_c
            resid *= p[rows, None]
            resid -= self.offsets[y]
            yield rows, resid


def _confmix_moments(stats: ClassStats, weights: np.ndarray):
    """Class means [C, D] and within-class residuals [N, D] of the ConfMix-ed features (see
    :class:`_ConfMixMoments`; this materialises the residuals, e.g. for a picture)."""
    moments = _ConfMixMoments(stats, weights)
    resid = np.empty((stats.n_samples, stats.n_dims))
    for rows, block in moments.residual_blocks():
        resid[rows] = block
    return moments.means, resid


def _softmax_rows(a: np.ndarray) -> np.ndarray:
    """Row softmax of ``a`` [N, C] in place: the operations of ``scipy.special.softmax(a, axis=1)`` (the same
    numbers) without its three N×C temporaries. Returns ``a``."""
    a -= a.max(axis=1, keepdims=True)
    np.exp(a, out=a)
    a /= a.sum(axis=1, keepdims=True)
    return a


def _soft_confusion(stats: ClassStats, posteriors: np.ndarray) -> np.ndarray:
    """Mean posterior of each true class [C, C]: row c = mean_{i: y_i=c} P[i]; its diagonal is per-class accuracy."""
    return np.asarray(stats.indicator @ posteriors) / stats.counts[:, None]


def sfda(features, labels, *, stats=None, shrinkage=None, confmix=True, spectrum=False) -> MetricResult:
    """SFDA score of features [N, D] for labels [N]: mean true-class posterior after ConfMix (in (0, 1]).

    Reproduces the official ``SFDA_Score`` (TencentARC/SFDA ``metrics.py``) to ~1e-12 without mutating the
    input (the official ConfMix writes into the caller's X). See the module docstring for the formula.

    Parameters
    ----------
    shrinkage : float in [0, 1], optional
        Fixed λ for both passes; ``None`` (default) = the official adaptive ``max(exp(−5 λ̂_max(S_W)), 1e-10)``,
        which depends on the absolute feature scale.
    confmix : bool
        ``True`` (official) scores the second, ConfMix-ed pass; ``False`` scores plain shrinkage-LDA.
    spectrum : bool
        Also return the first pass's generalised eigenvalues (an extra O(D³) decomposition).

    Numerics: the shrunk covariance is Cholesky-solved; where it is numerically indefinite (λ at its floor
    with a rank-deficient S_W, where the official eigh raises) the backend's pseudo-inverse solve is used,
    and a 1e-12·tr(S_T)/D ridge is added only if every class is a single point.

    Scale: given λ, the posteriors are scale invariant (the shrinkage target is tr(S_W)/D·I); only the adaptive
    λ sees the absolute scale. Features of extreme magnitude (outside [2^-64, 2^64]) are therefore divided by
    a power of two first, with λ taken from the caller's scale (``lambda_max`` in the trace is the caller's,
    possibly inf): the same score as the original maths, without the overflow (LAPACK "Internal Error").

    Degenerate (``compute`` flags it, :func:`sfda_degeneracy`): a score ≥ 1 − 1e-6 (saturated; in-sample
    certainty, always the case when N − C ≤ D with λ at its floor), posteriors equal to the class priors, and
    (contract-level) N − C ≤ D.

    trace: ``shrinkage`` (λ), ``lambda_max`` (power-iteration λ̂_max of S_W; None when λ was given),
    ``class_posterior_first`` [C] and ``class_posterior`` [C] (per-class mean true-class posterior of the
    first and the scored pass; ``π · class_posterior`` summed is the score), ``confusion_first`` and
    ``confusion`` [C, C] (row c = mean posterior of class c's samples), ``mixing_weights`` [N] (ConfMix p_i;
    absent when ``confmix=False``), ``eigenvalues`` [D] (only with ``spectrum=True``).
    """
    stats = metric_stats(features, labels, stats)
    key = ("sfda", shrinkage, confmix, spectrum)
    # Memoised on the shared statistics: PED asks for the same score on the unmoved features.
    return stats.memo(key, lambda: _sfda(stats, shrinkage, confmix, spectrum))


def _sfda(stats: ClassStats, shrinkage, confmix: bool, spectrum: bool) -> MetricResult:
    first = ShrinkageLDA(shrinkage, backend=stats.backend)._fit_stats(stats)
    post_first = stats.centered_dot(first.coef_.T)
    post_first += first.intercept_
    _softmax_rows(post_first)
    confusion_first = _soft_confusion(stats, post_first)
    trace = {
        "shrinkage": first.shrinkage_,
        "lambda_max": first.lambda_max_,
        "class_posterior_first": np.diag(confusion_first).copy(),
        "confusion_first": confusion_first,
    }
    if spectrum:
        trace["eigenvalues"] = first.fisher_eigenvalues_
    if not confmix:
        trace["class_posterior"] = trace["class_posterior_first"]
        trace["confusion"] = confusion_first
        score = float(post_first[np.arange(stats.n_samples), stats.labels].mean())
        return MetricResult("sfda", score, trace, params={"shrinkage": shrinkage, "confmix": False})

    # confmix_weights, with its second softmax written over the first-pass posteriors (no longer needed).
    weights = _softmax_rows(post_first)[np.arange(stats.n_samples), stats.labels]
    del post_first
    mixed = _ConfMixMoments(stats, weights)
    second = ShrinkageLDA.from_moments(mixed.means, stats.priors, mixed.within_scatter(),
                                       shrinkage=first.shrinkage_, backend=stats.backend)
    # x'_i − x̄' = e_i + (μ'_c − x̄'), so logits = e·coefᵀ + per-class offsets (from one centred product).
    offsets = (mixed.means - second.xbar_) @ second.coef_.T + second.intercept_  # [C, C]
    post = _softmax_rows(mixed.residual_dot(second.coef_.T, class_offsets=offsets))
    confusion = _soft_confusion(stats, post)
    trace.update(
        class_posterior=np.diag(confusion).copy(),
        confusion=confusion,
        mixing_weights=weights,
    )
    score = float(post[np.arange(stats.n_samples), stats.labels].mean())
    return MetricResult("sfda", score, trace, params={"shrinkage": shrinkage, "confmix": True})


def sfda_degeneracy(result: MetricResult, stats) -> str | None:
    """SFDA's bounds: a mean true-class posterior ≥ 1 − 1e-6 (saturated), or posteriors equal to the priors."""
    score = result.score
    n, c, dims = stats.n_samples, stats.n_classes, fit_dims(result, stats)
    if score >= 1.0 - REL_TOL:
        if n - c <= dims:
            return (
                f"SFDA is {fmt(score)} (saturated): the in-sample LDA posteriors are all 1 because N − C ≤ D "
                f"({n} samples, {dims} dims), where the within-class scatter is singular and every sample is "
                f"classified with certainty. {FIX_MORE_SAMPLES}"
            )
        return (
            f"SFDA is {fmt(score)} (saturated): every sample's true-class posterior is 1 even after ConfMix, so "
            "the classes are separable with certainty in-sample and the score cannot order such models. Score a "
            "harder or larger target set, or rank with a metric that keeps a margin (e.g. LogME)."
        )
    confusion = result.trace.get("confusion")
    if confusion is not None and float(np.max(np.abs(np.asarray(confusion) - stats.priors))) <= REL_TOL:
        return (
            f"SFDA is {fmt(score)} = Σ π_c² (its no-information value): the LDA posteriors equal the class priors "
            "for every sample, so the class means coincide or the features are constant. Check the extraction "
            "layer and the labels."
        )
    return None


register(MetricSpec(
    name="sfda", fn=sfda,
    display_name="SFDA", in_sample_posteriors=True,
    summary="Shrinkage-LDA posterior of the true class after self-challenging ConfMix (mean, no log).",
    citation="Shao et al., Not All Models Are Equal: Predicting Model Transferability in a Self-challenging "
             "Fisher Space, ECCV 2022",
    scale_invariant=False,
    saturation_hint=(
        "SFDA saturates at 1.0 when the samples barely outnumber the feature dimension (N - C <= D): the "
        "within-class scatter is singular, its shrinkage floors at 1e-10 once its top eigenvalue exceeds ~4.6, "
        "and every sample is classified with certainty. Score more images per class (N - C well above D)."
    ),
    degeneracy=sfda_degeneracy,
    fits_in_sample=True,
))
