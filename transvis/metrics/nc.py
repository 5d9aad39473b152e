"""Neural-collapse statistics NC1–NC4 (Papyan, Han, Donoho, PNAS 2020) of a frozen feature set.

With class means M = [μ_c] [C, D], the *unweighted* global mean μ_G = mean_c μ_c, M̃ = M − μ_G,
Σ_W = (1/N) Σ_i (x_i − μ_{y_i})(x_i − μ_{y_i})ᵀ and Σ_B = (1/C) M̃ᵀ M̃:

    NC1  = tr(Σ_W Σ_B⁺) / C                                  within-class variability relative to between
    NC2  equinorm  = std(‖M̃_c‖, ddof=1) / mean(‖M̃_c‖)
         equiangular = std over c<c' of cos(M̃_c, M̃_c')    (ddof=0)
         maxangle  = mean over c≠c' of |cos(M̃_c, M̃_c') + 1/(C−1)|
    NC3  = ‖W/‖W‖_F − M̃/‖M̃‖_F‖_F²                        self-duality with a classifier W [C, D]
    NC4  = accuracy of the nearest-class-mean classifier (Euclidean)

Perfect collapse: NC1 = 0, the class means form a simplex ETF (NC2 terms 0), W ∝ M̃, and every sample is
nearest to its own class mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._contract import MetricResult, MetricSpec, register
from ._degeneracy import REL_TOL, fmt
from ._stats import metric_stats

NC3_CLASSIFIERS = ("lda", None)


@dataclass(frozen=True)
class CollapseGeometry:
    """Shared intermediates of the NC statistics (also used by FaCe).

    global_mean [D] μ_G; centred_means [C, D] M̃; basis [D, r] orthonormal eigenvectors of Σ_B with
    positive eigenvalues ``eigenvalues`` [r] (r ≤ C−1); within_energy [N] the Σ_B⁺-whitened squared
    residual ‖Σ_B^{+½}(x_i − μ_{y_i})‖², so tr(Σ_W Σ_B⁺) = mean_i within_energy_i;
    mean_energy [C] the whitened squared norms ‖Σ_B^{+½} M̃_c‖² (their mean is r, the rank of Σ_B).
    """

    global_mean: np.ndarray
    centred_means: np.ndarray
    basis: np.ndarray
    eigenvalues: np.ndarray
    within_energy: np.ndarray
    mean_energy: np.ndarray


def collapse_geometry(stats) -> CollapseGeometry:
    """Σ_B⁺ from the C×C side (SVD of M̃, O(C²D)) and whitened residual energies (O(N D r)).

    Σ_B⁺ keeps the top min(C−1, D) eigenpairs (the reference code's ``svds(Sb, k=C−1)``) whose singular
    value of M̃ exceeds max(C, D)·eps·max(s_max, √C·rms‖x_i‖); a rank-deficient Σ_B (coinciding class
    means) is thereby pseudo-inverted instead of divided by round-off.
    """
    global_mean = stats.class_means.mean(axis=0)
    centred = stats.class_means - global_mean
    _, sing, vt = np.linalg.svd(centred, full_matrices=False)
    keep = min(stats.n_classes - 1, stats.n_dims)
    # Round-off in the class means scales with the raw feature norms, not with M̃ (which may be pure noise).
    rms_norm = np.sqrt(np.einsum("ij,ij->", stats.features, stats.features) / stats.n_samples)
    reference = max(sing[0] if sing.size else 0.0, np.sqrt(stats.n_classes) * rms_norm)
    tol = reference * max(stats.n_classes, stats.n_dims) * np.finfo(float).eps
    keep = int(min(keep, np.sum(sing > tol)))
    basis = np.ascontiguousarray(vt[:keep].T)  # [D, r]
    eigenvalues = sing[:keep] ** 2 / stats.n_classes
    if keep == 0:
        zeros = np.zeros(stats.n_samples)
        return CollapseGeometry(global_mean, centred, basis, eigenvalues, zeros, np.zeros(stats.n_classes))
    # Residuals projected on the basis without forming X − μ_y: (x − μ)V − (μ_y − μ)V.
    projected = stats.backend.matmul(stats.centered, basis)
    projected -= ((stats.class_means - stats.mean) @ basis)[stats.labels]
    within_energy = (projected**2 / eigenvalues).sum(axis=1)
    mean_energy = ((centred @ basis) ** 2 / eigenvalues).sum(axis=1)
    return CollapseGeometry(global_mean, centred, basis, eigenvalues, within_energy, mean_energy)


def nc1_from_geometry(geometry: CollapseGeometry, stats) -> tuple[float, np.ndarray]:
    """NC1 = tr(Σ_W Σ_B⁺)/C and each class's additive share of it [C] (shares sum to NC1).

    Without any between-class spread (all class means equal) NC1 is +inf (nothing separates).
    """
    if geometry.eigenvalues.size == 0:
        return float("inf"), np.full(stats.n_classes, np.inf)
    per_class = np.bincount(stats.labels, weights=geometry.within_energy, minlength=stats.n_classes)
    per_class = per_class / (stats.n_samples * stats.n_classes)
    return float(per_class.sum()), per_class


def class_mean_cosines(centred_means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Norms ‖M̃_c‖ [C] and cosine Gram matrix [C, C] of the centred class means (zero rows for a
    class mean equal to μ_G, whose direction is undefined)."""
    norms = np.linalg.norm(centred_means, axis=1)
    unit = centred_means / np.where(norms > 0, norms, 1.0)[:, None]
    gram = unit @ unit.T
    np.clip(gram, -1.0, 1.0, out=gram)
    return norms, gram


def nc2_statistics(centred_means: np.ndarray) -> dict:
    """Equinorm, equiangularity, max-angle, the cosine Gram, its distance to the simplex ETF, per class."""
    n_classes = centred_means.shape[0]
    norms, gram = class_mean_cosines(centred_means)
    mean_norm = norms.mean()
    equinorm = float(norms.std(ddof=1) / mean_norm) if mean_norm > 0 else float("nan")
    upper = gram[np.triu_indices(n_classes, 1)]
    off = ~np.eye(n_classes, dtype=bool)
    etf = np.full((n_classes, n_classes), -1.0 / (n_classes - 1))
    np.fill_diagonal(etf, 1.0)
    return {
        "nc2_equinorm": equinorm,
        "nc2_equiangular": float(upper.std()),
        "nc2_maxangle": float(np.abs(gram[off] + 1.0 / (n_classes - 1)).mean()),
        "mean_gram": gram,
        "etf_gram": etf,
        "etf_distance": float(np.linalg.norm(gram - etf)),
        "class_mean_norms": norms,
        "per_class_mean_cosine": (gram.sum(axis=1) - np.diag(gram)) / (n_classes - 1),
    }


def nearest_class_mean(stats) -> np.ndarray:
    """Index of the nearest class mean (Euclidean; ties to the lowest index) of every sample [N]."""
    shifted = stats.class_means - stats.mean
    # ‖x − μ_c‖² = ‖x − μ‖² − 2 (x − μ)·(μ_c − μ) + ‖μ_c − μ‖²; the first term is the same for every c.
    cross = stats.backend.matmul(stats.centered, np.ascontiguousarray(shifted.T))
    return np.argmin((shifted**2).sum(axis=1)[None, :] - 2.0 * cross, axis=1)


def _within_ledoit_wolf(stats) -> float:
    """Ledoit-Wolf shrinkage of the class-centred residuals (scikit-learn's formula, assume_centered)."""
    n, d = stats.n_samples, stats.n_dims
    cov = stats.within_scatter
    shifted = stats.class_means - stats.mean
    row_sq = np.empty(n)
    for c, idx in enumerate(stats.class_indices):  # one class at a time: [n_c, D] memory
        row_sq[idx] = ((stats.centered[idx] - shifted[c]) ** 2).sum(axis=1)
    mu = np.trace(cov) / d
    delta_ = (cov**2).sum()
    beta = ((row_sq**2).sum() / n - delta_) / n
    delta = (delta_ - 2.0 * mu * np.trace(cov) + d * mu**2) / d
    beta = min(beta / d, delta)
    return 0.0 if beta <= 0 or delta <= 0 else float(beta / delta)


def lda_classifier(stats, centred_means: np.ndarray) -> tuple[np.ndarray, float]:
    """Stand-in classifier for NC3: shrinkage-LDA weights W = M̃ Σ_α⁻¹ [C, D].

    Σ_α = (1−α) Σ_W + α (tr Σ_W / D) I with α the Ledoit-Wolf shrinkage of the class-centred residuals.
    Frozen features have no trained target head; this is the Bayes-optimal linear head under a shared
    Gaussian class model, *not* a fine-tuned classifier. Returns (W, α).
    """
    cov = stats.within_scatter
    scale = np.trace(cov) / stats.n_dims
    if scale <= 0:  # every sample sits on its class mean: identity metric
        return centred_means.copy(), 1.0
    alpha = _within_ledoit_wolf(stats)
    shrunk = (1.0 - alpha) * cov
    shrunk.flat[:: stats.n_dims + 1] += alpha * scale
    weights = stats.backend.solve_psd(shrunk, np.ascontiguousarray(centred_means.T))  # [D, C]
    return np.ascontiguousarray(weights.T), alpha


def neural_collapse(features, labels, *, stats=None, nc3_classifier: str | None = "lda") -> MetricResult:
    """Neural-collapse statistics of features [N, D] for labels [N] (Papyan, Han & Donoho, PNAS 2020).

    Definitions exactly as in the refvectors README "Neural-collapse statistics" (our transcription of the
    widely copied reference measurement code: ``Sw_invSb``, ``norm_M_CoV``, ``coherence``): μ_G is the
    unweighted mean of the class means; NC1 = tr(Σ_W Σ_B⁺)/C (the reference code omits the /C), Σ_B⁺ from
    the top C−1 eigenpairs. Computed on the C×C side: an SVD of M̃ [C, D] and residual projections
    [N, C−1], never a D×D pseudo-inverse.

    NC3 needs a classifier W; frozen features have none. ``nc3_classifier="lda"`` uses a **stand-in**, the
    shrinkage-LDA weights M̃ Σ_α⁻¹ (Ledoit-Wolf α on the within-class residuals; costs the shared D×D Σ_W
    and one D×D solve); ``None`` skips NC3 (then ``nc3`` and ``nc4_classifier_mismatch`` are NaN).

    Score: ``1 / (1 + NC1)`` ∈ [0, 1], a monotone transform of −NC1 (higher = more collapsed = more
    transferable); 0 when the class means coincide (NC1 = inf). Scale invariant (every statistic is):
    features of extreme magnitude (outside [2^-64, 2^64]) are divided by a power of two first (same score).

    Degenerate (``compute`` flags it): a score within 1e-6 of 1 (NC1 ≈ 0) or of 0 (class means coincide),
    and (contract-level) N − C ≤ D, where the class means fitted on the same samples make even pure noise
    look collapsed (NC1 of noise shrinks like N/D).

    trace: ``nc1``, ``nc1_per_class`` [C] (class c's share π_c tr(Cov_c Σ_B⁺)/C; sums to nc1),
    ``nc2_equinorm``, ``nc2_equiangular``, ``nc2_maxangle``, ``mean_gram`` [C, C] (cosines of the centred
    class means), ``etf_gram`` [C, C] (the ideal simplex ETF: 1 on the diagonal, −1/(C−1) off it),
    ``etf_distance`` (‖mean_gram − etf_gram‖_F), ``class_mean_norms`` [C], ``per_class_mean_cosine`` [C],
    ``nc3`` (with the stand-in W), ``nc3_classifier`` (what W is), ``classifier_norms`` [C] ‖w_c‖,
    ``nc2_classifier_equinorm``, ``lda_shrinkage``, ``nc4_ncc_accuracy``, ``nc4_per_class`` [C] (NCC
    accuracy per class), ``nc4_classifier_mismatch`` (fraction where the stand-in LDA and NCC disagree:
    the paper's NC4), ``between_eigenvalues`` [r] of Σ_B.
    """
    if nc3_classifier not in NC3_CLASSIFIERS:
        raise ValueError(f"nc3_classifier must be 'lda' or None; got {nc3_classifier!r}.")
    stats = metric_stats(features, labels, stats)
    geometry = collapse_geometry(stats)
    nc1, nc1_per_class = nc1_from_geometry(geometry, stats)
    trace = {"nc1": nc1, "nc1_per_class": nc1_per_class}
    trace.update(nc2_statistics(geometry.centred_means))

    ncc = nearest_class_mean(stats)
    hits = (ncc == stats.labels).astype(float)
    trace["nc4_ncc_accuracy"] = float(hits.mean())
    trace["nc4_per_class"] = np.bincount(stats.labels, weights=hits, minlength=stats.n_classes) / stats.counts
    trace["between_eigenvalues"] = geometry.eigenvalues

    nan = float("nan")
    trace.update(nc3=nan, nc3_classifier=None, classifier_norms=None, nc2_classifier_equinorm=nan,
                 lda_shrinkage=nan, nc4_classifier_mismatch=nan)
    if nc3_classifier == "lda":
        weights, alpha = lda_classifier(stats, geometry.centred_means)
        w_norm, m_norm = np.linalg.norm(weights), np.linalg.norm(geometry.centred_means)
        row_norms = np.linalg.norm(weights, axis=1)
        # LDA discriminant up to a class-independent term: w_c·(x − μ_G) − ½ w_c·M̃_c + log π_c.
        offsets = -0.5 * (weights * geometry.centred_means).sum(axis=1) + np.log(stats.priors)
        offsets += weights @ (stats.mean - geometry.global_mean)
        logits = stats.backend.matmul(stats.centered, np.ascontiguousarray(weights.T)) + offsets
        trace.update(
            nc3=float(np.sum((weights / w_norm - geometry.centred_means / m_norm) ** 2))
            if w_norm > 0 and m_norm > 0 else nan,
            nc3_classifier="stand-in: shrinkage-LDA weights M̃ Σ_α⁻¹ (Ledoit-Wolf α), not a trained head",
            classifier_norms=row_norms,
            nc2_classifier_equinorm=float(row_norms.std(ddof=1) / row_norms.mean()) if row_norms.mean() > 0 else nan,
            lda_shrinkage=alpha,
            nc4_classifier_mismatch=float(np.mean(logits.argmax(axis=1) != ncc)),
        )
    return MetricResult("nc", 1.0 / (1.0 + nc1), trace, params={"nc3_classifier": nc3_classifier})


def nc_degeneracy(result: MetricResult, stats) -> str | None:
    """1/(1+NC1) within 1e-6 of 1 (NC1 ≈ 0) or of 0 (NC1 = inf: the class means coincide)."""
    score = result.score
    if score >= 1.0 - REL_TOL:
        return (f"The neural-collapse score 1/(1+NC1) is {fmt(score)}, at its maximum 1 (NC1 ≈ 0): the classes have "
                "no within-class spread along the class-mean directions, so the score cannot order such models. "
                "Check for duplicated samples or score a harder target set.")
    if score <= REL_TOL:
        return (f"The neural-collapse score 1/(1+NC1) is {fmt(score)}, at its minimum 0: the class means coincide "
                "(NC1 = inf), so the features carry no class information. Check the extraction layer and the labels.")
    return None


register(MetricSpec(
    name="nc", fn=neural_collapse, aliases=("neural_collapse",),
    display_name="NC (neural collapse)", short_name="NC",
    summary="Neural-collapse statistics NC1–NC4; the score is 1/(1+NC1), within- vs between-class "
            "variability.",
    citation="Papyan, Han, Donoho, Prevalence of neural collapse during the terminal phase of deep learning "
             "training, PNAS 2020",
    scale_invariant=True,
    degeneracy=nc_degeneracy,
    fits_in_sample=True,
))
