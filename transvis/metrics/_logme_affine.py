"""LogME of per-class affine moves of the features without one eigendecomposition per move.

LogME (You et al., ICML 2021; :mod:`transvis.metrics.logme`) depends on the features F [N, D] only through the
spectrum σ of FᵀF and the projections z of the one-vs-rest targets. For a frame ``x'_i = m'_c + a·r_i``
(class means m'_c, within-class residuals r_i of the unperturbed features scaled by a):

    F'ᵀF' = a² Σ_i r_i r_iᵀ + Σ_c n_c m'_c m'_cᵀ = Q (a²Λ + B Bᵀ) Qᵀ,    B = Qᵀ [√n_c m'_c]_c  [D, C]

with Σ r rᵀ = QΛQᵀ decomposed **once per model**. Every quantity of LogME's fixed-point iteration is a
spectral sum of A = a²Λ + BBᵀ, a diagonal plus a rank-C term, evaluated exactly through the C×C matrix
``S_t = I + Bᵀ(a²Λ + tI)⁻¹B`` (Woodbury and the matrix-determinant lemma), for class c with e_c = √n_c·1_c:

    φ(t)  = e_cᵀ S_t⁻¹ e_c = residual0 + Σ z² t/(σ+t)        ‖m‖² = Σ σz²/(σ+t)² = ‖(a²Λ+tI)⁻¹ B S_t⁻¹ e_c‖²
    ‖Fm − y_c‖² = φ(t) − t‖m‖²                              γ = Σ a²λ/(a²λ+t) + t·tr(S_t⁻¹ Bᵀ(a²Λ+tI)⁻² B)
    log det(αI + βFᵀF) = D log β + Σ log(a²λ + t) + log det S_t,      t = α/β

so a frame costs O(iterations·C³·D) instead of O(N·D² + D³). The iteration, its stopping rules, the 1e-5
guards and the three variants are those of :func:`transvis.metrics.logme.logme` (tests assert equality with
``compute("logme", frame_features, labels)``). Valid when N > D (LogME's XᵀX path). The dynamics engine uses
it for affine frames, :func:`transvis.metrics.logme.logme` for moved statistics (``ClassStats.moved``: FSP's
Spread/Attract, PED's steps), where the base's within-class eigendecomposition is computed once and shared by
every strength (:func:`faster_than_registry` decides).
"""

from __future__ import annotations

import numpy as np

from ._contract import MetricResult
from ._lazy import LazyMap
from . import logme as _logme

_CHUNK_FLOATS = 1 << 22  # classes per batch chosen so a [k, C, D] temporary stays ~32 MB


def faster_than_registry(n: int, d: int, c: int) -> bool:
    """Whether one closed-form evaluation (the within-class eigendecomposition already paid for) beats one
    LogME on the moved statistics through the registry (~9·D³ flops: an eigendecomposition of XᵀX)."""
    if n <= d:
        return False
    per_call_fast = 2.0 * (_logme.MAX_ITERATIONS + 2) * c**3 * d * 3 + 2.0 * c * d * d
    return per_call_fast < 9.0 * d**3 + 2.0 * c * d * d


def within_eigh(stats) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending, clipped at 0) [D] and eigenvectors [D, D] of Σ r rᵀ = N·S_W, memoised on the
    statistics' within-class memo (moved statistics with the same residuals share their base's).

    SciPy's MRRR driver ``evr``, as the dynamics engine has always used for its closed-form frames (persisted
    trajectories were computed with its eigenvectors)."""
    import scipy.linalg

    def build():
        gram = stats.n_samples * np.asarray(stats.within_scatter)
        values, vectors = scipy.linalg.eigh(gram, driver="evr", check_finite=False)
        return np.maximum(values, 0.0), vectors

    return stats.within_memo("within_eigh_evr", build)


def _full_rank_without_eigvalsh(spectrum, rows, n: int) -> int | None:
    """D when every eigenvalue of a²Λ + BBᵀ is certainly above LogME's null cutoff (σ_max·max(N, D)·eps),
    from Weyl's bounds (λ_min ≥ min a²λ, λ_max ≤ max a²λ + ‖B‖²_F); None when the bounds cannot tell."""
    d = spectrum.size
    upper = float(spectrum.max(initial=0.0) + np.sum(rows * rows))
    if spectrum.min(initial=0.0) > 2.0 * upper * max(n, d) * np.finfo(float).eps:
        return d
    return None


def _terms(spectrum, rows, sqrt_counts, classes, t, *, gamma=False, logdet=False, weights=False):
    """m2, res2 (and γ, log det(A + tI) − D log ... see module docstring; with ``weights`` the posterior
    means (A + tI)⁻¹ g_c [len(classes), D] in the eigenbasis Q) for ``classes`` at their own t."""
    n_classes, d = rows.shape
    out_m2, out_res2 = np.empty(classes.size), np.empty(classes.size)
    out_gamma = np.empty(classes.size) if gamma else None
    out_logdet = np.empty(classes.size) if logdet else None
    out_weights = np.empty((classes.size, d)) if weights else None
    step = max(1, _CHUNK_FLOATS // max(1, n_classes * d))
    eye = np.eye(n_classes)
    for start in range(0, classes.size, step):
        part = slice(start, start + step)
        idx, tt = classes[part], t[part]
        k = idx.size
        inv = 1.0 / (spectrum[None, :] + tt[:, None])  # [k, D]
        kernel = np.matmul(rows[None, :, :] * inv[:, None, :], rows.T)  # [k, C, C] = Bᵀ (a²Λ + tI)⁻¹ B
        system = kernel + eye
        rhs = np.zeros((k, n_classes, 1))
        rhs[np.arange(k), idx, 0] = sqrt_counts[idx]
        w = np.linalg.solve(system, rhs)[..., 0]  # [k, C]
        h = (w @ rows) * inv  # [k, D]: (A + tI)⁻¹ g_c
        m2 = np.einsum("kd,kd->k", h, h)
        phi = sqrt_counts[idx] * w[np.arange(k), idx]
        out_m2[part] = m2
        out_res2[part] = phi - tt * m2
        if weights:
            out_weights[part] = h
        if gamma:
            kernel2 = np.matmul(rows[None, :, :] * (inv * inv)[:, None, :], rows.T)
            trace = np.einsum("kii->k", np.linalg.solve(system, kernel2))
            out_gamma[part] = (spectrum[None, :] * inv).sum(axis=1) + tt * trace
        if logdet:
            out_logdet[part] = np.linalg.slogdet(system)[1] + np.log(spectrum[None, :] + tt[:, None]).sum(axis=1)
    if weights:
        return out_m2, out_res2, out_gamma, out_logdet, out_weights
    return out_m2, out_res2, out_gamma, out_logdet


def logme_low_rank(spectrum: np.ndarray, rows: np.ndarray, counts: np.ndarray, n: int,
                   variant: str = "exact", basis: np.ndarray | None = None) -> MetricResult | None:
    """LogME from ``spectrum`` = a²λ [D] (≥ 0) and ``rows`` = Bᵀ [C, D] (see module docstring).

    The fixed point and the evidence are LogME's own (:func:`transvis.metrics.logme.fixed_point`,
    :func:`~transvis.metrics.logme.evidence`); only their spectral sums are evaluated here. The trace has the
    registry's keys: ``singular_values`` and ``rank`` from the eigenvalues of a²Λ + BBᵀ, ``weights`` rotated
    back by ``basis`` = Q [D, D] (left in Q's coordinates without it); those three are computed on first read
    (the trace is a :class:`~transvis.dynamics.frames.LazyMap`).
    Returns None where LogME's own code takes a degenerate branch (no feature direction at all).
    """
    d = spectrum.size
    n_classes = counts.size
    if not (np.any(spectrum > 0) or np.any(rows)):
        return None
    sqrt_counts = np.sqrt(counts.astype(np.float64))
    icml = variant == "official_icml"

    def terms(active, t):
        m2, res2, gamma, _unused = _terms(spectrum, rows, sqrt_counts, active, t, gamma=True)
        return gamma, m2, res2

    with np.errstate(divide="ignore", invalid="ignore"):
        alpha, beta, t_used, m2_used, res2_used = _logme.fixed_point(terms, n_classes, n, icml=icml)
    if np.any(alpha <= 0) or not np.all(np.isfinite(alpha)) or not np.all(np.isfinite(beta)):
        return None
    t_final = alpha / beta
    classes = np.arange(n_classes)
    if variant == "exact":
        m2, res2, _unused, logdet_part = _terms(spectrum, rows, sqrt_counts, classes, t_final, logdet=True)
        t_weights = t_final
    else:
        logdet_part = _terms(spectrum, rows, sqrt_counts, classes, t_final, logdet=True)[3]
        # The official variants' weights (``ms``) and evidence are those of the previous α/β, as theirs.
        m2, res2, t_weights = m2_used, res2_used, t_used
    # Σ_D log(α + βσ) = D log β + log det(A + tI); LogME's k/2·log α with the k non-null terms equals
    # D/2·log α with all D (null directions add log α to both), for all three variants when N > D.
    log_det = d * np.log(beta) + logdet_part
    evidence = _logme.evidence(alpha, beta, m2, res2, log_det, d / 2.0, n)
    eager = {"alpha": alpha, "beta": beta, "evidence": evidence,
             "closed_form": "low-rank update of the unperturbed within-class spectrum (transvis.dynamics)"}
    spectrum_parts = {}

    def lazy(key):
        # singular_values, rank (one eigvalsh of a²Λ + BBᵀ: O(D³), as much as the registry's own frame) and
        # weights are computed when read, so scoring a frame stays O(iterations·C³·D).
        if key in eager:
            return eager[key]
        if key == "weights":
            weights = _terms(spectrum, rows, sqrt_counts, classes, t_weights, weights=True)[4]
            return weights @ basis.T if basis is not None else weights
        if key == "rank" and not spectrum_parts:
            full = _full_rank_without_eigvalsh(spectrum, rows, n)
            if full is not None:
                return full
        if not spectrum_parts:
            gram = np.diag(spectrum) + rows.T @ rows  # Qᵀ F'ᵀF' Q: the same eigenvalues
            values, rank, _keep = _logme.singular_values_and_rank(np.linalg.eigvalsh(gram)[::-1], n, d)
            spectrum_parts.update(singular_values=values, rank=rank)
        return spectrum_parts[key]

    trace = LazyMap(["alpha", "beta", "evidence", "singular_values", "rank", "weights", "closed_form"], lazy)
    return MetricResult("logme", float(evidence.mean()), trace, variant=variant)




def logme_moved(stats, variant: str) -> MetricResult | None:
    """LogME of moved statistics (``x'_i = μ'_{y_i} + s·r_i``: :class:`~transvis.metrics._stats.MovedClassStats`)
    from the base's within-class eigendecomposition: F'ᵀF' = s²·Σ r rᵀ + Σ_c n_c μ'_c μ'_cᵀ. None where the
    closed form does not apply or LogME's own code takes a degenerate branch (then score through the registry)."""
    base = getattr(stats, "_base", None)
    if base is None or variant not in _logme.VARIANTS or not faster_than_registry(
            stats.n_samples, stats.n_dims, stats.n_classes):
        return None
    values, vectors = within_eigh(base)
    sqrt_counts = np.sqrt(stats.counts.astype(np.float64))[:, None]
    rows = (np.asarray(stats.class_means) @ vectors) * sqrt_counts
    result = logme_low_rank(stats.residual_scale**2 * values, rows, stats.counts, stats.n_samples, variant,
                            basis=vectors)
    return result
