"""LogME: the log marginal evidence of a Bayesian linear head (You et al., ICML 2021; JMLR 2022).

For each class c the one-vs-rest target ``y_c = 1[y = c]`` [N] is modelled as ``y_c = F w + ε`` with
``w ~ N(0, α⁻¹ I_D)`` and ``ε ~ N(0, β⁻¹ I_N)``. With ``A = α I_D + β FᵀF`` and ``m = β A⁻¹ Fᵀ y_c``:

    L_c(α, β) = D/2·log α + N/2·log β − N/2·log 2π − β/2·‖F m − y_c‖² − α/2·‖m‖² − ½·log det A

α and β come from MacKay's fixed-point iteration and the score is ``mean_c L_c / N``.

Everything reduces to the thin SVD ``F = U diag(s) Vᵀ`` (σ = s²) and the projections ``z_c = Uᵀ y_c``:

    γ = Σ σ/(σ+t),  ‖m‖² = Σ σ z²/(σ+t)²,  ‖F m − y_c‖² = Σ z² t²/(σ+t)² + (n_c − ‖z‖²),   t = α/β

The SVD is read off one eigendecomposition of the shared Gram matrix: XᵀX [D, D] when N > D (obtained
from the shared eigendecomposition of S_T by a rank-one update, XᵀX = N·(S_T + μμᵀ)), XXᵀ [N, N] when
N ≤ D. ``Fᵀ y_c`` is the class sum of the features, so no one-hot matrix is ever multiplied.
"""

from __future__ import annotations

import numpy as np

from ._contract import MetricResult, MetricSpec, register
from ._degeneracy import fmt
from ._lazy import LazyMap
from ._stats import MovedClassStats, metric_stats
from ._validation import scale_error

VARIANTS = ("exact", "official_fixed_point", "official_icml")

GUARD = 1e-5  # the official code's epsilon in the α/β updates (and, for ICML, in the evidence)
MAX_ITERATIONS = 11
LOG_2PI = np.log(2.0 * np.pi)
# Deletion replicates (logme_deletion_replicates) are used while the heads' effective parameters γ_c are at most
# this fraction of N on average; above it the left-out samples' interactions matter and the subsets are refitted.
DELETION_MAX_DOF = 0.3


def _spectrum(stats):
    """Thin SVD pieces of F = X [N, D] from the shared Gram eigendecomposition.

    Returns σ [k] (descending, numerically non-zero squared singular values), the projections z [C, k]
    of every one-vs-rest target, a function mapping per-direction coefficients [C, k] to weights
    ``V diag(s) coef`` [C, D], and the number of σ the official fixed-point code sums in its
    log-determinant (``n_official_terms``).
    """
    n, d = stats.n_samples, stats.n_dims
    backend = stats.backend
    if n > d:
        decomposition = stats.raw_gram_eigh  # XᵀX from the shared S_T eigendecomposition (rank-one update)
        eigvals = decomposition.values
    else:
        eigvals, eigvecs = _sample_gram_eigh(stats)
    singular_values, _rank, keep = singular_values_and_rank(eigvals, n, d)
    sigma = eigvals[keep].copy()
    s = np.sqrt(sigma)
    if n > d:
        # V's kept columns; U = F V / s, so Uᵀ y_c = Vᵀ (class sum of F) / s.
        class_sums = stats.class_means * stats.counts[:, None]
        z = decomposition.project(class_sums)[:, keep] / s

        def weights(coef):
            full = np.zeros((coef.shape[0], d))
            full[:, keep] = coef * s
            return decomposition.expand(full)

        # The official code keeps s > 1e-10 of svd(XᵀX); its null directions come out as round-off
        # s ≈ 1e-8·s_max and are (almost always) kept, each adding ≈ log α: all D directions count.
        n_official_terms = d
    else:
        basis = eigvecs[:, keep]
        # basis = U [N, k]; Uᵀ y_c sums U's rows of class c, and V diag(s) = Fᵀ U.
        z = np.asarray(stats.indicator @ basis)

        def weights(coef):
            return backend.matmul(coef @ basis.T, stats.features)

        n_official_terms = n  # full thin SVD: all N singular values, zeros included
    return sigma, singular_values, z, weights, n_official_terms


def _sample_gram_eigh(stats):
    """Eigendecomposition of XXᵀ [N, N] (N ≤ D), descending; memoised (the deletion replicates read it again)."""
    def build():
        values, vectors = stats.backend.eigh(stats.raw_sample_gram)
        return values[::-1], vectors[:, ::-1]
    return stats.memo("raw_sample_gram_eigh", build)


def fixed_point(terms, n_classes: int, n: int, *, icml: bool = False):
    """thuml/LogME's per-target iteration for every class at once: ``_fit_fixed_point`` (stop when the
    relative change of α/β is ≤ 1e-3, or α = 0), or with ``icml`` ``each_evidence`` of ICML 2021 (stop < 1e-2;
    the 1e-5 guards kept in the returned ‖m‖² and residual).

    ``terms(active, t)`` returns γ, ‖m‖² and the residual ‖F m − y_c‖² [len(active)] of the classes ``active``
    at their t = α/β: the registry sums them over the spectrum (:func:`spectral_terms`), the dynamics' closed
    form evaluates them through a low-rank update. Every class (row) takes exactly the official per-class steps
    and stops at its own criterion (a stopped row is left alone), so the values are those of a loop over the
    classes; one set of array operations per step instead of one per class keeps the GIL free for other
    threads (``rank_models(n_jobs=2)``).

    Returns α, β [C] and, per class, the t = α/β at which the last ‖m‖² and residual were evaluated (the
    official evidence uses these stale values), with that ‖m‖² and residual.
    """
    alpha, beta = np.ones(n_classes), np.ones(n_classes)
    t, m2, res2 = np.empty(n_classes), np.empty(n_classes), np.empty(n_classes)
    active = np.arange(n_classes)
    for _ in range(MAX_ITERATIONS):
        if not active.size:
            break
        t_now = alpha[active] / beta[active]
        gamma, m2_now, res2_now = terms(active, t_now)
        alpha_now = gamma / (m2_now + GUARD)
        beta_now = (n - gamma) / (res2_now + GUARD)
        alpha[active], beta[active] = alpha_now, beta_now
        t[active], m2[active], res2[active] = t_now, m2_now, res2_now
        change = np.abs(alpha_now / beta_now - t_now) / t_now
        if icml:
            done = change < 1e-2
        else:  # α = 0: no feature direction (all-zero features); α and β are already fixed
            done = (alpha_now == 0.0) | (change <= 1e-3)
        active = active[~done]
    if icml:
        return alpha, beta, t, m2 + GUARD, res2 + GUARD
    return alpha, beta, t, m2, res2


def spectral_terms(sigma, z2, residual0, *, icml: bool = False):
    """:func:`fixed_point`'s ``terms`` from the spectrum: sigma [k]; z2 [C, k] (squared projections of each
    one-vs-rest target); residual0 [C] (the part of each target outside the feature span)."""
    def terms(active, t_now):
        t_col = t_now[:, None]
        z2_now = z2[active]
        gamma = (sigma / (sigma + t_col)).sum(axis=1)
        m2_now = (sigma * z2_now / (t_col + sigma) ** 2).sum(axis=1)
        if icml:
            res2_now = (z2_now * (t_col / (t_col + sigma)) ** 2).sum(axis=1) + residual0[active]
        else:
            res2_now = (z2_now / (1.0 + sigma / t_col) ** 2).sum(axis=1) + residual0[active]
        return gamma, m2_now, res2_now
    return terms


def evidence(alpha, beta, m2, res2, log_det, log_alpha_weight, n):
    """L/N with ``log_alpha_weight·log α`` standing for D/2·log α minus the α-only part of ½·log det A."""
    alpha_term = log_alpha_weight * np.log(alpha) if log_alpha_weight else 0.0
    value = (alpha_term + n / 2.0 * np.log(beta) - 0.5 * log_det
             - beta / 2.0 * res2 - alpha / 2.0 * m2 - n / 2.0 * LOG_2PI)
    return value / n


def singular_values_and_rank(eigvals, n: int, d: int):
    """The trace's ``singular_values`` (null directions 0) and ``rank`` from the Gram eigenvalues (descending):
    round-off puts null directions at ~eps·σ_max (either sign), so those at or below σ_max·max(N, D)·eps count
    as exact zeros. Also returns the mask of the kept eigenvalues."""
    cutoff = max(eigvals[0] * max(n, d) * np.finfo(float).eps, 0.0)
    keep = eigvals > cutoff
    return np.where(keep, np.sqrt(np.maximum(eigvals, 0.0)), 0.0), int(keep.sum()), keep


def logme(features, labels, *, stats=None, variant: str = "exact") -> MetricResult:
    """LogME of features [N, D] for labels [N]: ``mean_c L_c(α_c, β_c) / N`` (higher is better).

    Paper: You, Liu, Wang, Long, "LogME: Practical Assessment of Pre-trained Models for Transfer
    Learning", ICML 2021; fixed-point iteration from You et al., "Ranking and Tuning Pre-trained Models"
    (JMLR 2022, arXiv 2110.10545). Official code: thuml/LogME ``LogME.py``.

    Variants
    --------
    ``exact`` (default)
        α_c, β_c from the official fixed-point iteration, then the exact evidence at those values with
        no epsilons: ‖m‖² and the residual recomputed at the final α/β, and the full
        ``log det A = Σ_{i≤k} log(α + βσ_i) + (D−k)·log α``.
    ``official_fixed_point``
        thuml/LogME's default ``_fit_fixed_point``. Known defect: when rank k < D (always when N ≤ D)
        its log-determinant omits ``(D−k)·log α``, over-stating L_c/N by ``(D−k)/(2N)·log α``. It also
        evaluates the evidence with the ‖m‖² and residual of the previous α/β.
    ``official_icml``
        thuml/LogME ``_fit_icml`` (ICML 2021; TLlib uses it): relative stopping rule 1e-2, all D
        eigenvalues in the log-determinant, the 1e-5 guards inside the evidence.

    Numerically null directions (σ ≤ σ_max·max(N, D)·machine-eps) are treated as exact zeros. The
    official N > D path keeps its round-off directions (s > 1e-10 of ``svd(XᵀX)``), each adding ≈ log α
    to its log-determinant, so all D directions count there too; the N ≤ D bias above is the real one.
    ``exact`` is the exact evidence *at the official α, β*, not the maximum evidence: the official
    iteration stops after 11 steps, which is often before convergence when N ≤ D.

    Scale: rescaling F by c moves the evidence maximiser to (α/c², β) and leaves the maximum
    unchanged, but the official iteration starts at α = β = 1, stops after 11 steps and carries 1e-5
    guards in its updates. The score is therefore only roughly scale invariant. On unit-variance
    synthetic features with N > D it moves by ~1e-7 relative for scales 1e-6..2, but the α guard takes
    over as ‖m‖² shrinks towards 1e-5: ~2e-4 at scale 10, 10-40 % at scale 100, and at 1e6 the
    iteration oscillates. When N ≤ D the 11-step cap makes it move at every scale. Features of extreme
    magnitude (largest |x| outside [2^-64, 2^64]) therefore raise a ``ValueError`` that asks for standardised
    features, rather than a number the iteration did not converge to (or NaN).

    Degenerate (``compute`` flags it): all-zero features (rank 0), where the evidence is that of pure noise.
    The evidence has no other bound.

    trace: ``alpha`` [C], ``beta`` [C], ``evidence`` [C] (L_c/N), ``singular_values`` [min(N, D)]
    (descending, null directions 0), ``rank`` (k), ``weights`` [C, D] (the posterior mean m of each
    class's head; for the official variants their ``ms``, taken at the previous α/β as they do).
    """
    if variant not in VARIANTS:
        raise ValueError(f"logme has no variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
    stats = metric_stats(features, labels, stats)
    if stats.unit_scale != 1.0:
        raise scale_error("LogME", stats.unit_scale,
                          "starts its evidence iteration at α = β = 1 with absolute 1e-5 guards (not scale invariant)")
    # Memoised on the shared statistics: PED and FSP ask for the same score on the unmoved features.
    return stats.memo(("logme", variant), lambda: _moved_closed_form(stats, variant) or _logme(stats, variant))


def _moved_closed_form(stats, variant: str) -> MetricResult | None:
    """LogME of moved statistics (FSP's Spread/Attract, PED's steps) in closed form from the base's within-class
    eigendecomposition, shared by every strength (``_logme_affine``; equal to the registry path to round-off);
    None for plain statistics or where the closed form does not apply."""
    if not isinstance(stats, MovedClassStats):
        return None
    from ._logme_affine import logme_moved

    return logme_moved(stats, variant)


def _logme(stats, variant: str) -> MetricResult:
    n, d = stats.n_samples, stats.n_dims
    sigma, singular_values, z, to_weights, n_official_terms = _spectrum(stats)
    k = sigma.size
    if k == 0 and variant != "exact":
        raise ValueError(
            "features are all zero: the official LogME iteration is undefined there (α = 0). "
            "Check the extraction layer, or use variant='exact'."
        )
    z2_all = z**2
    residual0_all = np.maximum(stats.counts - z2_all.sum(axis=1), 0.0)

    icml = variant == "official_icml"
    alpha, beta, t, m2, res2 = fixed_point(spectral_terms(sigma, z2_all, residual0_all, icml=icml),
                                           z2_all.shape[0], n, icml=icml)
    a_col, b_col = alpha[:, None], beta[:, None]
    if variant == "official_icml":
        # All D eigenvalues: the D − k zeros add (D − k)·log α, leaving k/2·log α.
        log_det = np.log(a_col + b_col * sigma).sum(axis=1)
        evidences = evidence(alpha, beta, m2, res2, log_det, k / 2.0, n)
    elif variant == "official_fixed_point":
        # Σ over the official count of σ: zeros of the full thin SVD (N ≤ D) add log α each.
        log_det = np.log(a_col + b_col * sigma).sum(axis=1) + (n_official_terms - k) * np.log(alpha)
        evidences = evidence(alpha, beta, m2, res2, log_det, d / 2.0, n)
    else:
        t = alpha / beta
        t_col = t[:, None]
        m2 = (sigma * z2_all / (t_col + sigma) ** 2).sum(axis=1)
        res2 = (z2_all * (t_col / (t_col + sigma)) ** 2).sum(axis=1) + residual0_all
        log_det = np.log(a_col + b_col * sigma).sum(axis=1)
        # D/2·log α − ½(D−k)·log α = k/2·log α (and no α at all when k = 0).
        evidences = evidence(alpha, beta, m2, res2, log_det, k / 2.0, n)
    coef = z / (t[:, None] + sigma)  # m = V diag(s) coef
    trace = {
        "alpha": alpha,
        "beta": beta,
        "evidence": evidences,
        "singular_values": singular_values,
        "rank": int(k),
        "weights": to_weights(coef),
    }
    return MetricResult("logme", float(evidences.mean()), trace, variant=variant)


def logme_deletion_replicates(result: MetricResult, stats, subsets) -> np.ndarray | None:
    """LogME on each of ``subsets`` (kept-row index arrays) without a refit, from every sample's exact deletion
    effect at the full fit's α, β, summed over the rows a subset leaves out: [R] scores, or None where this does
    not apply (moved statistics, whose closed form is their own; a non-numpy backend; all-zero features;
    ``official_fixed_point`` with N ≤ D, whose log-determinant counts N).

    With A_c = α_c I + β_c FᵀF, leverage h = f_nᵀ A_c⁻¹ f_n and residual r = f_nᵀ m_c − y_cn, deleting sample n
    changes log det A_c by log(1 − β_c h) and the minimum of β/2·‖F m − y‖² + α/2·‖m‖² by −β_c/2·r²/(1 − β_c h)
    (Sherman–Morrison), so its effect on the un-normalised evidence N·L_c is exactly

        δ_cn = −½·log β_c + ½·log 2π + β_c/2·r² / (1 − β_c h) − ½·log(1 − β_c h)

    and a subset of m rows scores ``mean_c (N·L_c + Σ_{left out} δ_cn) / m``. Two things are left out: the
    re-estimation of α, β (zero to first order at the evidence maximiser) and the interaction of the left-out
    samples with each other. The 1/(1 − β h) factor is what a first-order (infinitesimal-jackknife) replicate
    misses: it is the in-sample head's optimism, and without it the noise of LogME comes out up to half too low
    (Gaussian classes with N ≈ D). With it, on the 24 members of the two prepared demo pools (N = 3,000, D = 24
    to 2,048, γ/N ≤ 0.25) the replicates' spread is 0.95–1.07× the refits' (correlation ≥ 0.988;
    ``bench/uncertainty.py --deletion-vs-refit``); on isotropic
    Gaussian classes with γ/N ≈ 0.2 it scatters ±20 % around them without a bias (the refitted jackknife's own
    standard error is uncertain by ±22 % at R = 10), and more as γ/N grows, hence the cut-off
    (``tests/unit/test_deletion_replicates.py``).

    Cost: the rows' coordinates in the Gram eigenbasis (one N × D × k product) once per model, then O(N·C) per
    subset, where a refit pays an eigendecomposition per subset (``bench/metrics.py``'s resample row).
    """
    trace = result.trace
    n, d = stats.n_samples, stats.n_dims
    if (isinstance(stats, MovedClassStats) or isinstance(trace, LazyMap) or stats.backend.name != "numpy"
            or not trace.get("rank") or (result.variant == "official_fixed_point" and n <= d)):
        return None
    alpha, beta = np.asarray(trace["alpha"]), np.asarray(trace["beta"])
    sigma = np.asarray(trace["singular_values"]) ** 2
    dof = (beta[:, None] * sigma / (alpha[:, None] + beta[:, None] * sigma)).sum(axis=1)  # γ_c
    if dof.mean() > DELETION_MAX_DOF * n:
        return None
    weights = np.asarray(trace["weights"])
    features = np.asarray(stats.features, dtype=np.float64)
    if n > d:
        decomposition = stats.raw_gram_eigh
        values = decomposition.values
    else:
        values, basis = _sample_gram_eigh(stats)
    _, _, keep = singular_values_and_rank(values, n, d)
    inverse_diag = 1.0 / (alpha[:, None] + beta[:, None] * values[keep])  # A_c⁻¹ in the eigenbasis [C, k]
    leverage = np.empty((n, alpha.size))  # f_nᵀ A_c⁻¹ f_n
    if n > d:
        vectors = np.ascontiguousarray(decomposition.vectors[:, keep])
        for rows in stats.row_blocks():
            coords = features[rows] @ vectors
            leverage[rows] = (coords * coords) @ inverse_diag.T
    else:  # the coordinates are s_i·U_ni for the left singular vectors U
        leverage[:] = (basis[:, keep] ** 2 * values[keep]) @ inverse_diag.T
    residual = features @ weights.T  # f_nᵀ m_c [N, C]
    residual[np.arange(n), stats.labels] -= 1.0
    kept = 1.0 - np.minimum(beta * leverage, 1.0 - 1e-12)  # 1 − β h ∈ (0, 1]
    deletion = (0.5 * (LOG_2PI - np.log(beta)) + 0.5 * beta * residual * residual / kept
                - 0.5 * np.log(kept))  # δ_cn [N, C]
    totals = np.asarray(trace["evidence"]) * n  # N·L_c
    out = np.empty(len(subsets))
    for r, rows in enumerate(subsets):
        left_out = np.ones(n, dtype=bool)
        left_out[rows] = False
        out[r] = ((totals + deletion[left_out].sum(axis=0)) / (n - left_out.sum())).mean()
    return out


def logme_degeneracy(result: MetricResult, stats) -> str | None:
    """All-zero features (no feature direction): the evidence of a head that can only predict 0."""
    trace = result.trace
    if isinstance(trace, LazyMap) and "rank" not in trace.computed():
        # the closed form (``_logme_affine``) yields a result only where some feature direction is non-zero, so
        # its rank is ≥ 1; reading it would cost the O(D³) spectrum the closed form exists to avoid
        return None
    if trace.get("rank") == 0:
        return (f"LogME is {fmt(result.score)}: the features are all zero (rank 0), so the evidence is that of a "
                "head that can only predict 0. Check the extraction layer.")
    return None


register(MetricSpec(
    name="logme", fn=logme,
    display_name="LogME",
    summary="Log marginal evidence of a Bayesian linear head on the features (per class, averaged).",
    citation="You, Liu, Wang, Long, LogME: Practical Assessment of Pre-trained Models for Transfer Learning, "
             "ICML 2021; You et al., Ranking and Tuning Pre-trained Models, JMLR 2022",
    scale_invariant=False,
    variants=VARIANTS,
    default_variant="exact",
    degeneracy=logme_degeneracy,
    deletion_replicates=logme_deletion_replicates,
))
