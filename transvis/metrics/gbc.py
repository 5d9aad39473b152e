"""GBC: Gaussian Bhattacharyya Coefficient (Pándy, Agostinelli, Uijlings, Ferrari, Mensink, CVPR 2022).

Each class is a Gaussian in PCA-reduced feature space; GBC sums the Bhattacharyya coefficients
BC = exp(−D_B) of all class pairs, i.e. how much the class densities overlap:

    D_B(i, j) = ⅛ Σ_d (μ_i − μ_j)_d² / σ̄_d + ½ [Σ_d log σ̄_d − ½ Σ_d log σ_i,d − ½ Σ_d log σ_j,d],  σ̄ = (σ_i + σ_j)/2
    GBC = − Σ_i Σ_{j≠i} exp(−D_B(i, j))        (each unordered pair counted twice)

with per-dimension population variances σ floored at 1e-4. In the spherical case σ_c is the mean of the
floored per-dimension variances, a scalar, and the log term is *not* multiplied by the dimension (as in
the official code).
"""

from __future__ import annotations

import numpy as np
import scipy.spatial.distance

from ._contract import MetricResult, MetricSpec, register
from ._degeneracy import FIX_STANDARDISE, fmt, near
from ._stats import feature_rms, metric_stats

GAUSSIAN_TYPES = ("spherical", "diagonal")
VARIANCE_FLOOR = 1e-4  # official tf.maximum(variance, 1e-4)


def pca_scores(stats, n_dims: int | None) -> np.ndarray:
    """Exact PCA scores (X − μ) V_k [N, k] from the top eigenvectors of S_T (``ClassStats.top_eigh``; k ≤ min(N, D)).

    ``n_dims=None`` keeps the features as they are (centred). Any exact PCA basis gives the same GBC: the
    spherical and diagonal formulas only see distances and per-axis variances of the same subspace.
    """
    if n_dims is None:
        return stats.centered
    k = min(int(n_dims), stats.n_samples, stats.n_dims)
    _, vectors = stats.top_eigh(k)
    return stats.centered_dot(np.ascontiguousarray(vectors[:, :k]))


def class_gaussians(reduced: np.ndarray, stats, floor: float = VARIANCE_FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """Per-class means [C, k] and population variances floored at ``floor`` [C, k] (two-pass, for accuracy)."""
    means = np.asarray(stats.indicator @ reduced) / stats.counts[:, None]
    resid = reduced - means[stats.labels]
    variances = np.asarray(stats.indicator @ resid**2) / stats.counts[:, None]
    return means, np.maximum(variances, floor)


def bhattacharyya_distances(means: np.ndarray, variances: np.ndarray, gaussian_type: str) -> np.ndarray:
    """D_B [C, C] between class Gaussians (diagonal zero) with the official spherical/diagonal formulas."""
    if gaussian_type == "spherical":
        sigma = variances.mean(axis=1)  # [C]
        avg = (sigma[:, None] + sigma[None, :]) / 2
        dist2 = scipy.spatial.distance.cdist(means, means, "sqeuclidean")
        log_sigma = np.log(sigma)
        dist = dist2 / avg / 8 + 0.5 * (np.log(avg) - 0.5 * log_sigma[:, None] - 0.5 * log_sigma[None, :])
    else:
        log_var = np.log(variances)
        half_log_det = 0.5 * log_var.sum(axis=1)
        dist = np.empty((len(means), len(means)))
        for i in range(len(means)):  # one row at a time: [C, k] memory, not [C, C, k]
            avg = (variances[i] + variances) / 2
            dist[i] = ((means[i] - means) ** 2 / avg).sum(axis=1) / 8 + 0.5 * (
                np.log(avg).sum(axis=1) - half_log_det[i] - half_log_det
            )
    np.fill_diagonal(dist, 0.0)
    return dist


def gbc(features, labels, *, stats=None, gaussian_type: str = "spherical", pca_dims: int | None = 64) -> MetricResult:
    """GBC of features [N, D] for labels [N] (Pándy et al., CVPR 2022).

    Matches google-research ``stable_transfer/transferability/gbc.py::get_gbc_score`` (TensorFlow; here a
    float64 numpy transcription) after that pipeline's ``PCA(n_components=64, svd_solver='full')``. The
    PCA is the exact one of the shared eigendecomposition of S_T; the official pipeline needs
    min(N, D) ≥ 64, here k = min(pca_dims, N, D). ``pca_dims=None`` skips the PCA.

    Variants: ``gaussian_type`` "spherical" (default, the paper's recommended setting) or "diagonal".
    Not scale invariant: the 1e-4 variance floor is absolute (and in the spherical case the log term is
    not multiplied by the dimension). Away from the floor (class variances ≫ 1e-4) it is scale invariant.
    Features of extreme magnitude (outside [2^-64, 2^64]) are divided by a power of two s first and the floor
    by s² (kept within the normal float range): the same maths without overflow (NaN) or underflow.

    Score: in [−C(C−1), 0], higher = less class overlap; 0 = perfectly separable.

    Degenerate (``compute`` flags it, :func:`gbc_degeneracy`): every class variance at the floor (features too
    small for the absolute 1e-4 floor: the score measures the floor), the floor −C(C−1) itself (complete
    overlap), or exactly 0 (every coefficient underflows).

    trace: ``overlap`` [C, C] the Bhattacharyya coefficients exp(−D_B) (diagonal set to 0: a class is not
    compared with itself), ``per_class_overlap`` [C] row sums (score = −their sum),
    ``bhattacharyya_distance`` [C, C], ``class_variance`` [C] (spherical σ_c, or the mean of the diagonal
    variances), ``pca_dims`` (dimension used), ``variance_floor`` (the floor, in the units of
    ``class_variance``), ``floored_fraction`` (share of the per-dimension class variances at the floor).
    """
    if gaussian_type not in GAUSSIAN_TYPES:
        raise ValueError(f"gaussian_type must be one of {GAUSSIAN_TYPES}; got {gaussian_type!r}.")
    if pca_dims is not None and int(pca_dims) < 1:
        raise ValueError(f"pca_dims must be a positive integer or None; got {pca_dims!r}.")
    stats = metric_stats(features, labels, stats)
    # Memoised on the shared statistics: PED asks for the same score on the unmoved features.
    return stats.memo(("gbc", gaussian_type, pca_dims), lambda: _gbc(stats, gaussian_type, pca_dims))


def _gbc(stats, gaussian_type: str, pca_dims) -> MetricResult:
    reduced = pca_scores(stats, pca_dims)
    floor = VARIANCE_FLOOR
    if stats.unit_scale != 1.0:  # rescaled features (ClassStats.rescaled): the floor in their units
        with np.errstate(over="ignore", under="ignore"):
            floor = float(VARIANCE_FLOOR / np.float64(stats.unit_scale) ** 2)
        floor = min(max(floor, np.finfo(float).tiny), 1e300)  # finite logs, sums and averages
    means, variances = class_gaussians(reduced, stats, floor)
    dist = bhattacharyya_distances(means, variances, gaussian_type)
    overlap = np.exp(-dist)
    np.fill_diagonal(overlap, 0.0)
    per_class = overlap.sum(axis=1)
    return MetricResult(
        "gbc",
        -float(per_class.sum()) + 0.0,  # + 0.0: no negative zero
        {
            "overlap": overlap,
            "per_class_overlap": per_class,
            "bhattacharyya_distance": dist,
            "class_variance": variances.mean(axis=1),
            "pca_dims": int(reduced.shape[1]),
            "variance_floor": floor,
            "floored_fraction": float(np.mean(variances <= floor)),
        },
        variant=gaussian_type,
        params={"gaussian_type": gaussian_type, "pca_dims": pca_dims},
    )


def gbc_degeneracy(result: MetricResult, stats) -> str | None:
    """Every class variance at the absolute floor, the floor −C(C−1) of the score, or exactly 0."""
    c = stats.n_classes
    span = float(c * (c - 1))
    score = result.score
    at_floor = near(score, -span, span)
    if result.trace.get("floored_fraction", 0.0) >= 1.0:
        where = f", at its floor −C(C−1) = {-int(span)}" if at_floor else ""
        return (
            f"GBC is {fmt(score)}{where}: every per-dimension class variance is below GBC's absolute variance "
            f"floor 1e-4 (the features' RMS spread is ~{feature_rms(stats):.1e}), so the score measures the floor, "
            f"not the features, and models tie. {FIX_STANDARDISE}"
        )
    if at_floor:
        return (
            f"GBC is {fmt(score)}, at its floor −C(C−1) = {-int(span)}: every pair of class Gaussians overlaps "
            "completely (the class means coincide within the class spread), so the features carry no class "
            "information here. Check the extraction layer and the labels."
        )
    if score == 0.0:
        return (
            "GBC is 0, its maximum: every pairwise Bhattacharyya coefficient underflows (the classes lie hundreds "
            "of standard deviations apart), so the score cannot order such models. Score a harder target set or "
            "rank with another metric."
        )
    return None


register(MetricSpec(
    name="gbc", fn=gbc, aliases=("gbc_spherical",),
    display_name="GBC",
    summary="Negative total Bhattacharyya overlap between per-class Gaussians in PCA-64 space.",
    citation="Pándy, Agostinelli, Uijlings, Ferrari, Mensink, Transferability Estimation using "
             "Bhattacharyya Class Separability, CVPR 2022",
    degeneracy=gbc_degeneracy,
))
